"""The demo's specimen passport is a real PDF: parseable structure, correct cross-reference offsets, the text in it."""

from __future__ import annotations

import re
from datetime import date

from apps.backoffice.demo_documents import specimen_passport_pdf


def test_specimen_is_a_well_formed_pdf_with_its_text():
    pdf = specimen_passport_pdf(surname="García", given_names="Javier", nationality="ES", born=date(1995, 6, 30),
                                number="DEMO000004", expires=date(2030, 1, 1))
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))
    assert pdf[startxref:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n ", pdf)]
    assert len(offsets) == 5
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())  # every object where the table says it is
    length = int(re.search(rb"/Length (\d+)", pdf).group(1))
    stream = pdf.split(b"stream\n", 1)[1]
    assert stream[length:].startswith(b"endstream")
    assert b"(Surname:  Garc\xeda)" in pdf and b"SPECIMEN" in pdf  # WinAnsi-encoded text, not an empty page
    assert b"P<ESGARCIA<<JAVIER" in pdf  # machine-readable zone in plain ASCII
