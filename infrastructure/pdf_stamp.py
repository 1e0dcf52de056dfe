"""The incoming registration stamp ("dấu đến") on a copy of a PDF, with pyHanko.

The copy is the original's bytes with one incremental update appended: a Stamp
annotation on the first page whose appearance shows the stamp's lines in a box.
The original is never changed; its signatures still cover what they covered.
pyHanko's difference analysis reports the copy as modified after signing (it
does not explain added annotations), which is the truth: the copy is evidence
of the registration, the original of the signature.
"""

from __future__ import annotations

import io
from typing import Any

from domain.evidence.incoming_stamp import IncomingStamper
from infrastructure.blobs import BlobStore
from infrastructure.pdf_attachments import PDF_MAGIC, is_pdf

WIDTH, HEIGHT, MARGIN = 150, 60, 20  # points; the box sits at the page's top right


def stamped_copy(data: bytes, text: str) -> bytes:
    """``data`` with a Stamp annotation showing ``text`` appended to its first page."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.layout import BoxConstraints
    from pyhanko.stamp import TextStamp, TextStampStyle

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    box = [float(v) for v in page.get("/MediaBox", [0, 0, 595, 842])]
    x, y = box[2] - WIDTH - MARGIN, box[3] - HEIGHT - MARGIN
    stamp = TextStamp(writer, TextStampStyle(stamp_text=text, border_width=1),
                      box=BoxConstraints(width=WIDTH, height=HEIGHT))
    # pyHanko's generic objects and writer carry no annotations: the calls are untyped
    annotation = writer.add_object(generic.DictionaryObject({  # type: ignore[no-untyped-call]
        pdf_name("/Type"): pdf_name("/Annot"),
        pdf_name("/Subtype"): pdf_name("/Stamp"),
        pdf_name("/Rect"): generic.ArrayObject(
            [generic.FloatObject(v)  # type: ignore[no-untyped-call]
             for v in (x, y, x + WIDTH, y + HEIGHT)]),
        pdf_name("/F"): generic.NumberObject(4),  # type: ignore[no-untyped-call] # print
        pdf_name("/Contents"): generic.TextStringObject(text),
        pdf_name("/P"): page_ref,
        pdf_name("/AP"): stamp.as_appearances().as_pdf_object(),
    }))
    annots = page.get("/Annots")
    if annots is None:
        page[pdf_name("/Annots")] = generic.ArrayObject([annotation])
    else:
        annots.append(annotation)
        if isinstance(page.raw_get("/Annots"), generic.IndirectObject):
            writer.mark_update(page.raw_get("/Annots"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


class PdfIncomingStamper(IncomingStamper):
    """Stamps copies of the PDFs the blob store holds and files them there."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def stamp(self, sha256: str, *, name: str, text: str) -> dict[str, Any] | None:
        path = self.blobs.verified_path(sha256)
        with path.open("rb") as blob:
            if not is_pdf(blob.read(len(PDF_MAGIC))):
                return None
        from pyhanko.pdf_utils.misc import PdfError

        try:
            copy = stamped_copy(path.read_bytes(), text)
        except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None  # not a PDF pyHanko can write: the original alone is kept
        return {"name": name, "media_type": "application/pdf", "size": len(copy),
                "sha256": self.blobs.put(copy)}
