"""Standardised uptake value (body weight) of a PT series, as QIBA defines it.

SUVbw = stored value x factor. With `Units` BQML the factor is the patient's weight
in grams over the injected dose decayed to the scan time:

    factor = PatientWeight [kg] x 1000 / (RadionuclideTotalDose x 2^(-dt / RadionuclideHalfLife))

dt runs from the injection (RadiopharmaceuticalStartDateTime, else SeriesDate with
RadiopharmaceuticalStartTime) to the series start (SeriesDate/SeriesTime; when the
earliest AcquisitionTime is earlier, that one: a scanner may restamp SeriesTime on
reconstruction). A series whose DecayCorrection is ADMIN is already decayed to the
injection: dt is 0. CNTS (Philips) uses the private SUV scale factor (7053,1000);
GML is SUV already (factor 1). Missing facts give no SUV and say which one.
"""
import datetime as dt

from pydicom.valuerep import DA, DT, TM

PHILIPS_GROUP = "Philips PET Private Group"


class NoSUV(ValueError):
    """SUV cannot be computed for this series; the message says what is missing."""


def factor(headers):
    """(factor, None) for a PT series' slice headers, or (None, why not)."""
    first = headers[0]
    units = str(first.get("Units", "") or "").upper()
    try:
        if units == "GML":
            return 1.0, None
        if units == "CNTS":
            return _philips_scale(first), None
        if units == "BQML":
            return _bqml(first, headers), None
        raise NoSUV(f"SUV needs Units BQML, CNTS or GML (this series: {units or 'none'})")
    except NoSUV as exc:
        return None, str(exc)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        return None, f"unreadable PET dose or time ({str(exc)[:120]})"


def _philips_scale(ds):
    """The Philips private SUV scale factor (7053,1000)."""
    try:
        value = ds.private_block(0x7053, PHILIPS_GROUP)[0x00].value
    except (KeyError, ValueError):
        element = ds.get((0x7053, 0x1000))
        if element is None:
            raise NoSUV("Units CNTS without the Philips SUV scale factor (7053,1000)")
        value = element.value
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\0 ")
    scale = float(value)
    if not scale > 0:
        raise NoSUV(f"the Philips SUV scale factor (7053,1000) is {scale:g}")
    return scale


def _bqml(first, headers):
    """weight [g] / dose decayed to the series start [Bq]."""
    weight = float(first.get("PatientWeight") or 0)
    if not weight > 0:
        raise NoSUV("no PatientWeight")
    info = first.get("RadiopharmaceuticalInformationSequence")
    if not info:
        raise NoSUV("no RadiopharmaceuticalInformationSequence")
    drug = info[0]
    dose = float(drug.get("RadionuclideTotalDose") or 0)
    half_life = float(drug.get("RadionuclideHalfLife") or 0)
    if not dose > 0:
        raise NoSUV("no RadionuclideTotalDose")
    if not half_life > 0:
        raise NoSUV("no RadionuclideHalfLife")
    if str(first.get("DecayCorrection", "START")).upper() == "ADMIN":
        return weight * 1000.0 / dose
    elapsed = (scan_time(first, headers) - injection_time(first)).total_seconds()
    if elapsed < 0:
        raise NoSUV("the injection is after the series start")
    return weight * 1000.0 / (dose * 2.0 ** (-elapsed / half_life))


def _when(date, time):
    """A datetime from DICOM DA and TM values (None when either is missing)."""
    if not date or not time:
        return None
    return dt.datetime.combine(DA(date), TM(time).replace(tzinfo=None))


def scan_time(first, headers):
    """The series start: SeriesDate/SeriesTime, or the earliest acquisition if earlier."""
    series = _when(first.get("SeriesDate"), first.get("SeriesTime"))
    acquired = [_when(ds.get("AcquisitionDate") or first.get("SeriesDate"),
                      ds.get("AcquisitionTime")) for ds in headers]
    acquired = [t for t in acquired if t is not None]
    if series is None and not acquired:
        raise NoSUV("no SeriesDate and SeriesTime")
    earliest = min(acquired) if acquired else None
    return earliest if series is None or (earliest and earliest < series) else series


def injection_time(first):
    """RadiopharmaceuticalStartDateTime, else SeriesDate with RadiopharmaceuticalStartTime."""
    drug = first.RadiopharmaceuticalInformationSequence[0]
    if drug.get("RadiopharmaceuticalStartDateTime"):
        return DT(drug.RadiopharmaceuticalStartDateTime).replace(tzinfo=None)
    start = _when(first.get("SeriesDate"), drug.get("RadiopharmaceuticalStartTime"))
    if start is None:
        raise NoSUV("no RadiopharmaceuticalStartTime")
    return start
