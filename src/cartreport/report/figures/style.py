"""The report's look — fonts, palette, spines, byte-stable SVG — and saving figures deterministically."""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from cartreport.analysis.endpoints import DAYS_PER_MONTH
from cartreport.formatting import number

__all__ = [
    "DATA_LABEL_CHARS",
    "DAYS_PER_MONTH",
    "DOUBLE_COLUMN",
    "PALETTE",
    "PRINT_DPI",
    "SINGLE_COLUMN",
    "SMALL",
    "STATE_COLOURS",
    "data_label",
    "data_labels",
    "rc_params",
    "save_figure",
    "save_png",
    "theme",
]

#: Okabe & Ito (2008) colour-blind-safe palette, ordered for contrast on white (yellow last: weak on white).
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#000000",  # black
    "#F0E442",  # yellow
)
STATE_COLOURS = {"remission": "#009E73", "relapsed": "#D55E00", "nrm": "#7F7F7F"}
SMALL = 6.5  # pt: risk tables, annotations, legends
#: journal column widths in inches: single column 85 mm, double column (full page width) 174 mm
SINGLE_COLUMN = 85 / 25.4
DOUBLE_COLUMN = 174 / 25.4
#: resolution of the PNG files written for manuscripts (journals ask for at least 300 dpi)
PRINT_DPI = 300
_SVG_STABLE = {"svg.hashsalt": "cartreport", "svg.fonttype": "none"}
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": "cartreport"},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": "cartreport", "Producer": None},
}


def rc_params(font_size: float = 7.0) -> dict[str, Any]:
    """The report's matplotlib settings (for ``matplotlib.rc_context``); :func:`theme` applies them globally."""
    return {
        "font.family": "sans-serif",
        "font.sans-serif": ["Arial", "Helvetica", "Liberation Sans", "DejaVu Sans"],
        "font.size": font_size,
        "axes.titlesize": font_size + 0.5,
        "axes.titlelocation": "left",
        "axes.labelsize": font_size,
        "xtick.labelsize": font_size - 0.5,
        "ytick.labelsize": font_size - 0.5,
        "legend.fontsize": font_size - 0.5,
        "legend.title_fontsize": font_size - 0.5,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.linewidth": 0.8,
        "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "xtick.major.width": 0.8,
        "ytick.major.width": 0.8,
        "xtick.major.size": 3.5,
        "ytick.major.size": 3.5,
        "lines.linewidth": 1.5,
        "figure.figsize": (SINGLE_COLUMN, 3.0),
        "figure.dpi": 100,
        "figure.facecolor": "white",
        "figure.constrained_layout.use": True,
        "savefig.dpi": PRINT_DPI,
        "hatch.linewidth": 0.6,
        "legend.handlelength": 1.6,
        "legend.borderaxespad": 0.0,
        "savefig.facecolor": "white",
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "mathtext.default": "regular",
        "text.parse_math": False,  # labels carry data (patient ids, subgroup values): ``$`` is text, not TeX
        **_SVG_STABLE,
    }


def theme(font_size: float = 7.0) -> None:
    """Set the report's look once: seaborn's ``paper`` context and ``ticks`` style, then 7 pt sans-serif for
    figures printed at journal column widths (:data:`SINGLE_COLUMN`, :data:`DOUBLE_COLUMN`), no top/right spines,
    the Okabe–Ito :data:`PALETTE`, constrained layout, and SVG settings that make files byte-stable."""
    sns.set_theme(context="paper", style="ticks", palette=list(PALETTE), rc=rc_params(font_size))


def save_figure(
    fig: Figure | SubFigure | Axes,
    directory: str | os.PathLike,
    name: str,
    *,
    dpi: int = PRINT_DPI,
    formats: Sequence[str] = ("png", "svg", "pdf"),
    close: bool = False,
) -> dict[str, Path]:
    """Write ``name.png`` at ``dpi`` (print resolution), ``name.svg`` and ``name.pdf`` (vector, for manuscripts)
    into ``directory``, at the figure's own size (drawn at journal column widths).

    Output is deterministic: no dates or software versions in the metadata, a fixed SVG hash salt, and text kept
    as text in the SVG. The figure is laid out (constrained layout) for the first file only: the others are drawn
    with the same layout, and the figure's layout engine is restored afterwards. Each file is written to a
    temporary name and moved into place. ``close=True`` closes the figure afterwards (batch runs outside a
    notebook, where pyplot would otherwise keep every figure).

    Returns
    -------
    dict
        ``{format: path}``.
    """
    if not name or Path(name).name != name:
        raise ValueError(f"name must be a plain file name without directories, not {name!r}")
    figure = fig.get_figure(root=True) if isinstance(fig, Axes | SubFigure) else fig
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    engine = figure.get_layout_engine()
    try:
        with mpl.rc_context(_SVG_STABLE):
            for fmt in formats:
                path = directory / f"{name}.{fmt}"
                partial = directory / f".{name}.{fmt}.partial"
                with _pdf_fonts_without_layout_tables() if fmt == "pdf" else contextlib.nullcontext():
                    figure.savefig(partial, format=fmt, dpi=dpi, metadata=_METADATA.get(fmt))
                partial.replace(path)
                paths[fmt] = path
                if engine is not None:  # the other files are drawn with the first one's layout
                    figure.set_layout_engine("none")
    finally:
        if engine is not None:
            figure.set_layout_engine(engine)
    if close:
        plt.close(figure)
    return paths


#: OpenType layout tables a PDF's embedded font does not need: the PDF places every glyph itself (matplotlib lays the
#: text out, kerning included), so substitution and positioning rules are never read from the file
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "kern")
_subset_lock = threading.Lock()


@contextlib.contextmanager
def _pdf_fonts_without_layout_tables() -> Iterator[None]:
    """While a PDF is written, fontTools (which matplotlib calls to subset each embedded TrueType font) drops the
    layout tables too. Parsing DejaVu Sans' GSUB and GPOS for every PDF was about a third of a PDF's time, 0.06 s of
    0.16 s, for tables the PDF never uses. matplotlib gives no option for it, so the subsetter's default list of
    tables to drop is extended for the duration of the write and restored after: fontTools is left as it was for
    any other code in the process. A lock keeps two threads of this process from interleaving the swap."""
    try:
        from fontTools import subset
    except ImportError:  # matplotlib would not write a PDF either
        yield
        return
    with _subset_lock:
        default = getattr(subset.Options, "_drop_tables_default", None)
        if not isinstance(default, list):  # another fontTools: write the PDF as it comes
            yield
            return
        subset.Options._drop_tables_default = [*default, *(t for t in _LAYOUT_TABLES if t not in default)]
        try:
            yield
        finally:
            subset.Options._drop_tables_default = default


def save_png(fig: Figure | SubFigure | Axes, target: Any, *, dpi: int, palette: bool = False) -> None:
    """Write ``fig`` as PNG at ``dpi`` to a path or binary file object, deterministically (no software tag).

    ``palette=True`` stores it with 256 colours (Pillow's octree quantizer, no dithering): line art with a few
    colours and their anti-aliasing looks the same at about a third of the bytes (the HTML report uses this).
    The drawing's pixels are quantized as Agg leaves them: encoding them as a full-colour PNG only for Pillow to
    decode it again was a quarter of a screen image's time. Compression is zlib's default level: level 9 made
    the images 8% smaller at a fifth of a screen image's time.
    """
    figure = fig.get_figure(root=True) if isinstance(fig, Axes | SubFigure) else fig
    if not palette:
        figure.savefig(target, format="png", dpi=dpi, metadata=_METADATA["png"])
        return
    from PIL import Image

    rgb = _drawn_rgb(figure, dpi)
    rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        target, format="PNG", compress_level=6, dpi=(dpi, dpi)
    )


def _drawn_rgb(figure: Figure, dpi: int) -> Any:
    """``figure`` drawn at ``dpi`` as a Pillow RGB image.

    A figure with an Agg canvas (pyplot's figures, in a kernel or not) is drawn once as raw RGBA, and the canvas'
    buffer gives its size in pixels (computing it from the size in inches can be a pixel off). Any other figure
    (``matplotlib.figure.Figure()``, drawn on a canvas lent to it while it is saved) goes through a PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    buffer = io.BytesIO()
    if isinstance(figure.canvas, FigureCanvasAgg):
        figure.savefig(buffer, format="raw", dpi=dpi)
        # what savefig drew on (get_renderer() would draw again, at the figure's own dpi)
        drawn = getattr(figure.canvas, "renderer", None)
        size = (int(drawn.width), int(drawn.height)) if drawn is not None else (0, 0)
        if buffer.getbuffer().nbytes == size[0] * size[1] * 4:
            return Image.frombuffer("RGBA", size, buffer.getvalue(), "raw", "RGBA", 0, 1).convert("RGB")
        buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata=_METADATA["png"])
    with Image.open(buffer) as image:
        return image.convert("RGB")


# ------------------------------------------------------------------------------------------------ small helpers
#: text from the data (a patient_id, a diagnosis, a subgroup's value) is drawn at most this many characters long
DATA_LABEL_CHARS = 40


def data_label(value: Any, limit: int = DATA_LABEL_CHARS) -> str:
    """Text from the data as a figure draws it: on one line (runs of white space one space) and at most ``limit``
    characters, clipped in the middle: the ids of one study share their start and differ at their end, and both
    ends are kept. A 10,000-character cell (a notes column mapped by mistake) squeezed a figure's axes to nothing;
    a CDISC ``USUBJID`` (usually under 40 characters) is drawn whole.

    >>> data_label("T-ALL")
    'T-ALL'
    >>> data_label("X" * 100 + "-0001", limit=12)
    'XXXXX…X-0001'
    """
    text = " ".join(str(value).split())
    if len(text) <= limit:
        return text
    tail = limit // 2
    return text[: limit - tail - 1] + "…" + text[-tail:]


def data_labels(values: Iterable[Any], limit: int = DATA_LABEL_CHARS) -> list[str]:
    """:func:`data_label` of each value, told apart where different values would be drawn alike (ids that share
    both ends around a clipped middle, text differing in runs of white space): each such label gets the value's
    rank among them, ``"SITE-0001-AAAA…BBBB (2)"``. A value given twice keeps its one label.

    >>> data_labels(["T-ALL", "T  LBL", "T LBL"])
    ['T-ALL', 'T LBL (1)', 'T LBL (2)']
    """
    values = [str(value) for value in values]
    drawn = {value: data_label(value, limit) for value in dict.fromkeys(values)}
    alike: dict[str, list[str]] = {}
    for value, label in drawn.items():
        alike.setdefault(label, []).append(value)
    for label, group in alike.items():
        if len(group) > 1:
            drawn.update({value: f"{label} ({rank})" for rank, value in enumerate(group, start=1)})
    return [drawn[value] for value in values]


def _text_width(text: str, size: float = SMALL) -> float:
    """Width in points of ``text`` in the current sans-serif font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(size=size), ismath=False)
    return float(width)


def _fitted(text: str, points: float, size: float = SMALL) -> str:
    """``text`` wrapped onto as few lines as keep each within ``points`` wide (at ``size``); unchanged if it fits.
    A closing parenthesis group, such as "(n = 16; 7 events)", is kept on one line.

    >>> _fitted("A rather long subgroup name (n = 16; 7 events)", 90)
    'A rather long subgroup\\nname (n = 16; 7 events)'
    """
    import re
    import textwrap

    if _text_width(text, size) <= points:
        return text
    glued = re.sub(r"\([^()]*\)$", lambda m: m.group().replace(" ", "\0"), text)  # \0: never broken at
    for width in range(len(glued) - 1, 7, -1):
        lines = textwrap.fill(glued, width).replace("\0", " ").splitlines()
        if all(_text_width(line, size) <= points for line in lines):
            return "\n".join(lines)
    return textwrap.fill(glued, 8).replace("\0", " ")


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    return plt.figure(figsize=figsize, layout="constrained").add_subplot()


def _number(value: float) -> str:
    """12 → '12', 12.5 → '12.5', 1234 → '1,234' (axis ticks, counts and day intervals): the report's one
    number rule, :func:`cartreport.formatting.number`."""
    return number(float(value), 1)
