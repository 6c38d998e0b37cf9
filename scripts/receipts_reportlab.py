"""The same receipt as `malipo-receipt` renders, drawn with ReportLab, for the benchmark.

Usage: receipts_reportlab.py SAMPLE.json COUNT OUT_DIR
Prints one line per layout: receipts per second on one thread. Writes one PDF of each layout
to OUT_DIR so the two renderings can be compared by eye.
"""

import io
import json
import sys
import textwrap
import time

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

LAYOUTS = {
    # page size, margin, body size, line pitch, value column, characters per line, QR size
    "A4": (A4, 20 * mm, 11, 6.5 * mm, 70 * mm, 84, 35 * mm),
    "80 mm": ((80 * mm, 200 * mm), 4 * mm, 8.5, 4.2 * mm, 27 * mm, 46, 30 * mm),
}


def draw(c, s, layout, copy=False):
    (width, height), margin, size, line, value_x, columns, qr = LAYOUTS[layout]
    title, heading, small = (16, 13, 9) if layout == "A4" else (11, 10, 7.5)
    x, y = margin, height - margin - 6 * mm
    for part in textwrap.wrap(s["office_name"], columns * 3 // 4):
        c.setFont("Helvetica-Bold", title)
        c.drawString(x, y, part)
        y -= line + 2 * mm
    c.setFont("Helvetica", small)
    for detail in (s["office_address"], "Tel: " + s["office_phone"], "KRA PIN: " + s["office_kra_pin"]):
        for part in textwrap.wrap(detail, columns + 8):
            c.drawString(x, y, part)
            y -= line - 1 * mm
    y -= line
    c.setFont("Helvetica-Bold", heading)
    c.drawString(x, y, "OFFICIAL RECEIPT - COPY" if copy else "OFFICIAL RECEIPT")
    y -= line + 2 * mm
    rows = [
        ("Receipt No.", s["receipt_number"]),
        ("Date", s["date"]),
        ("Transaction", s["transaction"]),
        ("Policy", s["policy"]),
        ("Received from", s["holder"]),
        ("Amount", s["amount"]),
        ("Paid by", s["paid_by"]),
        ("Served by", s["clerk"]),
    ]
    full = width - 2 * margin
    value_columns = max(12, int(columns * (full - value_x) / full))
    for label, value in rows:
        c.setFont("Helvetica-Bold", size)
        c.drawString(x, y, label)
        c.setFont("Helvetica", size)
        for i, part in enumerate(textwrap.wrap(value, value_columns)):
            if i:
                y -= line
            c.drawString(x + value_x, y, part)
        y -= line
    y -= line / 2
    c.setFont("Helvetica-Bold", size)
    c.drawString(x, y, "Amount in words:")
    y -= line
    c.setFont("Helvetica", size)
    for part in textwrap.wrap(s["amount_words"], columns):
        c.drawString(x, y, part)
        y -= line
    y -= line
    if not s["verify_url"]:
        return
    widget = QrCodeWidget(s["verify_url"], barLevel="M", barBorder=0)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(qr, qr, transform=[qr / (x1 - x0), 0, 0, qr / (y1 - y0), 0, 0])
    drawing.add(widget)
    if layout == "A4":
        qx, qy = width - margin - qr, height - margin - qr
    else:
        qx, qy = x, y - qr
    renderPDF.draw(drawing, c, qx, qy)
    c.setFont("Helvetica", small)
    c.drawString(qx, qy - line + 1 * mm, "Scan to verify this receipt")
    if layout != "A4":
        y = qy - 2 * line
    y -= line / 2
    for part in textwrap.wrap("Thank you for your payment. Keep this receipt as proof of payment.", columns + 4):
        c.drawString(x, y, part)
        y -= line - 1 * mm


def render(sample, layout):
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=LAYOUTS[layout][0], pageCompression=1)
    c.setTitle("Receipt " + sample["receipt_number"])
    draw(c, sample, layout)
    c.showPage()
    c.save()
    return buf.getvalue()


def main():
    sample = json.load(open(sys.argv[1]))
    count = int(sys.argv[2])
    out = sys.argv[3]
    for qr in (True, False):
        for layout, name in (("A4", "a4"), ("80 mm", "80mm")):
            if qr:
                with open(f"{out}/reportlab-{name}.pdf", "wb") as f:
                    f.write(render(sample, layout))
            render(sample, layout)  # warm up
            n = count if qr else count * 10
            started = time.perf_counter()
            size = 0
            for i in range(n):
                url = sample["verify_url"].replace("HQ-R000001", f"HQ-R{i:06}") if qr else ""
                s = dict(sample, receipt_number=f"HQ-R{i:06}", transaction=f"HQ-{i:06}", verify_url=url)
                size += len(render(s, layout))
            secs = time.perf_counter() - started
            label = layout if qr else layout + " without QR"
            print(f"reportlab {label:>16}: {n / secs:7.0f} receipts/s on one thread ({n} in {secs:.2f} s, {size // n} bytes each)")


main()
