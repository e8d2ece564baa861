"""The one HTML parser of the suite (a forgiving tree on html.parser) and the views tests take.

- parse(html or response) -> the document's root Node: find, find_all, text()
- Page(html): flat view: every (tag, attrs) in order, find(tag, **attrs) -> attr dicts,
  text[id] -> the raw text of the element with that id
- parse_table(html, css_class): the rows of one table, each cell's text, links, details
"""
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    """An HTML element: tag, attributes, children (nodes and strings)."""

    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        """The element's text, whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def raw_text(self, skip=()):
        """The element's text exactly as written (without the text of `skip` tags)."""
        return "".join(c if isinstance(c, str) else c.raw_text(skip) for c in self.children
                       if isinstance(c, str) or c.tag not in skip)

    def classes(self):
        """The element's class names."""
        return (self.attrs.get("class") or "").split()

    def iter(self):
        """This element and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag=None, **attrs):
        """Descendant elements with this tag and these attribute values (True: present).

        Names: `class_` is `class`, `data_id` is `data-id`."""
        return [n for n in self.iter() if (tag is None or n.tag == tag) and all(
            (name in n.attrs) if want is True else n.attrs.get(name) == want
            for name, want in ((k.rstrip("_").replace("_", "-"), v) for k, v in attrs.items()))]

    def find(self, tag=None, **attrs):
        """The first matching element, or None."""
        found = self.find_all(tag, **attrs)
        return found[0] if found else None


class TreeBuilder(HTMLParser):
    """A forgiving tree builder on top of html.parser."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html):
    """A page (text, or a test-client response) as a tree; returns its root."""
    if not isinstance(html, str):
        html = html.get_data(as_text=True)
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


class Page:
    """A page seen flat: every tag with its attributes, and the text of each element with an id."""

    def __init__(self, html):
        self.root = parse(html)
        nodes = list(self.root.iter())[1:]
        self.tags = [(node.tag, node.attrs) for node in nodes]
        self.text = {}
        for node in nodes:
            if node.attrs.get("id"):
                self.text.setdefault(node.attrs["id"], node.raw_text())

    def find(self, tag=None, **attrs):
        """Attributes of the tags matching the name and attribute values (`cls` means `class`)."""
        if "cls" in attrs:
            attrs["class"] = attrs.pop("cls")
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k) == v for k, v in attrs.items())]


def parse_table(html, css_class):
    """Rows of the first table with class `css_class`: each {"attrs", "cells"}, and each cell
    {"text" (outside <pre>), "pre", "links", "tags", "details", "open"}; rows with no <td> skipped.
    """
    table = next((n for n in parse(html).iter() if n.tag == "table" and css_class in n.classes()),
                 None)
    rows = []
    for tr in (table.find_all("tr") if table else []):
        cells = []
        for td in (c for c in tr.children if isinstance(c, Node) and c.tag == "td"):
            below = list(td.iter())[1:]
            details = [n for n in below if n.tag == "details"]
            cells.append({"text": td.raw_text(skip={"pre"}),
                          "pre": "".join(n.raw_text() for n in below if n.tag == "pre"),
                          "links": [n.attrs.get("href") for n in below if n.tag == "a"],
                          "tags": [n.tag for n in below], "details": bool(details),
                          "open": bool(details) and "open" in details[0].attrs})
        if cells:
            rows.append({"attrs": tr.attrs, "cells": cells})
    return rows
