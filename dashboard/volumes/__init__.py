"""PET-CT volumes as people have them.

formats   which format a file is (from its content) and what it holds: checked at
          submit without loading it, loaded in the worker as an [x, y, z] array
stats     min, max, mean, std, non-zero share, histogram, percentiles (chunked)
render    the three views and projections, oriented as section 13 says, windowed, PNG
cache     the canonical volume each attempt leaves behind, and the web's memory map of it
"""
