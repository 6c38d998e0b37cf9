//! Receipts as PDF, in two layouts: A4 for the office printer and an 80 mm roll for thermal
//! printers. Text is set in the standard Helvetica fonts (nothing embedded, every field
//! extractable), and the verification link is drawn as a QR code of filled rectangles, so a
//! receipt stays a few kilobytes.
//!
//! Rendering is pure: the caller decides what the receipt says (including whether it is a copy
//! and what the verification link is); this crate only lays it out.

pub mod words;

use printpdf::path::PaintMode;
use printpdf::{
    BuiltinFont, CustomPdfConformance, IndirectFontRef, Mm, PdfConformance, PdfDocument,
    PdfDocumentReference, PdfLayerReference, Rect,
};
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel};
use time::OffsetDateTime;

use malipo_domain::time_zone::NAIROBI;
use malipo_domain::{Method, Money};

/// The office as printed at the top of every receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Office {
    pub name: String,
    pub address: String,
    pub phone: String,
    pub kra_pin: String,
}

/// Everything a receipt says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub office: Office,
    /// `HQ-R000017`: sequential per office, without gaps.
    pub receipt_number: String,
    /// When the payment was made; printed in Nairobi time.
    pub paid_at: OffsetDateTime,
    /// The payment's number, `HQ-000042`.
    pub transaction_number: String,
    pub policy_number: String,
    pub holder: String,
    pub amount: Money,
    pub method: Method,
    /// The M-Pesa receipt number, for M-Pesa payments.
    pub mpesa_receipt: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// Cash: what the customer handed over (the change printed is this less the amount).
    pub tendered: Option<Money>,
    /// A cheque's number, bank and drawer, a bank slip's reference, or how a Paystack payment
    /// was made when not by card ("mobile money, MTN Mobile Money"), as printed after the
    /// method.
    pub method_detail: Option<String>,
    /// A cheque not yet cleared: printed "SUBJECT TO CLEARANCE".
    pub provisional: bool,
    pub clerk: Option<String>,
    /// A reprint: marked "COPY".
    pub copy: bool,
    /// The signed verification link the QR code carries (none without a relay).
    pub verify_url: Option<String>,
}

/// Where the receipt will be printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    A4,
    /// An 80 mm thermal roll (72 mm printable).
    Roll80,
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Layout, String> {
        match s {
            "a4" | "A4" => Ok(Layout::A4),
            "80mm" | "80" | "roll" => Ok(Layout::Roll80),
            other => Err(format!("unknown receipt format '{other}': use a4 or 80mm")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the receipt could not be laid out: {0}")]
    Pdf(String),
    #[error("the verification link does not fit in a QR code: {0}")]
    Qr(String),
    #[error("nothing to render")]
    Empty,
}

/// Tenths of a millimetre as printpdf's unit. Layout positions only: no money is ever a float.
#[allow(clippy::float_arithmetic)]
fn mm(tenths: i32) -> Mm {
    Mm(tenths as f32 / 10.0)
}

struct Fonts {
    regular: IndirectFontRef,
    bold: IndirectFontRef,
}

/// The page geometry of a layout, in tenths of a millimetre.
struct Page {
    width: i32,
    height: i32,
    margin: i32,
    /// Body text size (pt) and line pitch.
    size: f32,
    line: i32,
    /// Where values start, right of their labels.
    value_x: i32,
    /// Characters of body text that fit across the printable width (Helvetica averages about
    /// half an em a character).
    columns: usize,
    qr: i32,
}

impl Layout {
    fn page(self) -> Page {
        match self {
            Layout::A4 => Page {
                width: 2100,
                height: 2970,
                margin: 200,
                size: 11.0,
                line: 65,
                value_x: 700,
                columns: 84,
                qr: 350,
            },
            Layout::Roll80 => Page {
                width: 800,
                height: 2000,
                margin: 40,
                size: 8.5,
                line: 42,
                value_x: 270,
                columns: 46,
                qr: 300,
            },
        }
    }
}

/// Splits `text` into lines of at most `columns` characters, at spaces where it can.
fn wrap(text: &str, columns: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        while word.chars().count() > columns {
            let head: String = word.chars().take(columns).collect();
            word = word.chars().skip(columns).collect();
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > columns {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// "27 Nov 2026, 10:05" in Nairobi time.
fn nairobi_time(at: OffsetDateTime) -> String {
    let local = at.to_offset(NAIROBI);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::from(u8::from(local.month())) - 1];
    format!(
        "{} {month} {}, {:02}:{:02} EAT",
        local.day(),
        local.year(),
        local.hour(),
        local.minute()
    )
}

/// How the customer paid, as printed.
fn paid_by(r: &Receipt) -> String {
    match r.method {
        Method::Mpesa => match &r.mpesa_receipt {
            Some(code) => format!("M-Pesa, receipt {code}"),
            None => "M-Pesa".to_owned(),
        },
        Method::Paybill => match &r.mpesa_receipt {
            Some(code) => format!("M-Pesa Pay Bill, code {code}"),
            None => "M-Pesa Pay Bill".to_owned(),
        },
        // Paid through Paystack some other way than a card (USSD, bank transfer, mobile money).
        Method::Card if r.method_detail.is_some() => {
            format!(
                "Paystack, {}",
                r.method_detail.as_deref().unwrap_or_default()
            )
        }
        Method::Card => match (&r.card_brand, &r.card_last4) {
            (Some(brand), Some(last4)) => format!("Card, {} ending {last4}", brand.to_uppercase()),
            (None, Some(last4)) => format!("Card ending {last4}"),
            _ => "Card".to_owned(),
        },
        Method::Cash => match r
            .tendered
            .and_then(|t| Some((t, t.checked_sub(r.amount).ok()?)))
        {
            Some((tendered, change)) if !change.is_zero() => {
                format!("Cash, {tendered} tendered, {change} change")
            }
            _ => "Cash".to_owned(),
        },
        Method::Cheque => match &r.method_detail {
            Some(d) => format!("Cheque {d}"),
            None => "Cheque".to_owned(),
        },
        Method::Bank => match &r.method_detail {
            Some(d) => format!("Bank deposit, reference {d}"),
            None => "Bank deposit".to_owned(),
        },
    }
}

/// The modules of a QR code for `url` (error correction M) and its width. The mask is fixed
/// rather than chosen by trying all eight: any mask is valid and scans, and trying them all
/// costs thirty times the rest of the code's construction.
fn qr_modules(url: &str) -> Result<(Vec<Color>, usize), RenderError> {
    let qr = |e: qrcode::types::QrError| RenderError::Qr(e.to_string());
    let bits = qrcode::bits::encode_auto(url.as_bytes(), EcLevel::M).map_err(qr)?;
    let version = bits.version();
    let (data, ec) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M).map_err(qr)?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    canvas.apply_mask(MaskPattern::Checkerboard);
    let width = usize::try_from(version.width()).map_err(|e| RenderError::Qr(e.to_string()))?;
    Ok((canvas.into_colors(), width))
}

/// The runs of dark modules, row by row: (row, first column, one past the last column). Drawing
/// one shape per run instead of one per module keeps both the PDF and the SVG small.
fn dark_runs(colors: &[Color], width: usize) -> Vec<(usize, usize, usize)> {
    let mut runs = Vec::new();
    for (row, line) in colors.chunks(width).enumerate() {
        let mut col = 0;
        while col < line.len() {
            if line[col] == Color::Dark {
                let start = col;
                while col < line.len() && line[col] == Color::Dark {
                    col += 1;
                }
                runs.push((row, start, col));
            } else {
                col += 1;
            }
        }
    }
    runs
}

/// The QR code for `text` as an SVG image (one path, four modules of quiet zone), for screens:
/// the card checkout link shown to a customer's phone camera.
pub fn qr_svg(text: &str) -> Result<String, RenderError> {
    let (colors, width) = qr_modules(text)?;
    let mut path = String::new();
    for (row, start, end) in dark_runs(&colors, width) {
        let run = end - start;
        path.push_str(&format!("M{} {}h{run}v1h-{run}z", start + 4, row + 4));
    }
    let size = width + 8;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// Draws the QR code for `url` with its lower-left corner at (x, y), `size` across.
fn draw_qr(
    layer: &PdfLayerReference,
    url: &str,
    x: i32,
    y: i32,
    size: i32,
) -> Result<(), RenderError> {
    let (colors, modules) = qr_modules(url)?;
    let width = i32::try_from(modules).map_err(|e| RenderError::Qr(e.to_string()))?;
    let module = (size / width).max(1);
    let int = |n: usize| i32::try_from(n).unwrap_or(0);
    for (row, start, end) in dark_runs(&colors, modules) {
        let top = y + width * module - int(row) * module;
        layer.add_rect(
            Rect::new(
                mm(x + int(start) * module),
                mm(top - module),
                mm(x + int(end) * module),
                mm(top),
            )
            .with_mode(PaintMode::Fill),
        );
    }
    Ok(())
}

/// Lays out one receipt on a page `height` tall, drawing on `layer` when there is one, and
/// returns the lowest point the content reaches. Without a layer it only measures, so a roll's
/// page can be cut as long as its content.
fn draw(
    layer: Option<&PdfLayerReference>,
    fonts: &Fonts,
    layout: Layout,
    height: i32,
    r: &Receipt,
) -> Result<i32, RenderError> {
    let p = layout.page();
    let x = p.margin;
    let mut y = height - p.margin - 60;
    let text = |s: &str, size: f32, x: i32, y: i32, font: &IndirectFontRef| {
        if let Some(layer) = layer {
            layer.use_text(s, size, mm(x), mm(y), font);
        }
    };
    let (title_size, heading, small) = match layout {
        Layout::A4 => (16.0, 13.0, 9.0),
        Layout::Roll80 => (11.0, 10.0, 7.5),
    };

    // The office.
    for line in wrap(&r.office.name, p.columns * 3 / 4) {
        text(&line, title_size, x, y, &fonts.bold);
        y -= p.line + 20;
    }
    for detail in [
        r.office.address.clone(),
        format!("Tel: {}", r.office.phone),
        format!("KRA PIN: {}", r.office.kra_pin),
    ] {
        if detail.ends_with(": ") || detail.is_empty() {
            continue;
        }
        for line in wrap(&detail, p.columns + 8) {
            text(&line, small, x, y, &fonts.regular);
            y -= p.line - 10;
        }
    }
    y -= p.line;
    let title = if r.copy {
        "OFFICIAL RECEIPT - COPY"
    } else {
        "OFFICIAL RECEIPT"
    };
    text(title, heading, x, y, &fonts.bold);
    if r.copy {
        // Unmistakable on the page and in the text.
        let (cx, cy) = (p.width - p.margin - 300, y);
        text("COPY", title_size, cx.max(x), cy, &fonts.bold);
    }
    y -= p.line + 20;

    // The fields.
    let rows = [
        ("Receipt No.", r.receipt_number.clone()),
        ("Date", nairobi_time(r.paid_at)),
        ("Transaction", r.transaction_number.clone()),
        ("Policy", r.policy_number.clone()),
        ("Received from", r.holder.clone()),
        ("Amount", r.amount.to_string()),
        ("Paid by", paid_by(r)),
        (
            "Served by",
            r.clerk.clone().unwrap_or_else(|| "-".to_owned()),
        ),
    ];
    // The share of the line right of the labels.
    let full = usize::try_from(p.width - 2 * p.margin).unwrap_or(1).max(1);
    let right = usize::try_from(p.width - 2 * p.margin - p.value_x).unwrap_or(0);
    let value_columns = (p.columns * right / full).max(12);
    for (label, value) in rows {
        text(label, p.size, x, y, &fonts.bold);
        for (i, line) in wrap(&value, value_columns).iter().enumerate() {
            if i > 0 {
                y -= p.line;
            }
            text(line, p.size, x + p.value_x, y, &fonts.regular);
        }
        y -= p.line;
    }
    if r.provisional {
        // A cheque pays only once the bank clears it: said where the amount is read.
        y -= p.line / 2;
        text("SUBJECT TO CLEARANCE", heading, x, y, &fonts.bold);
        y -= p.line;
    }
    y -= p.line / 2;
    text("Amount in words:", p.size, x, y, &fonts.bold);
    y -= p.line;
    for line in wrap(&words::amount(r.amount), p.columns) {
        text(&line, p.size, x, y, &fonts.regular);
        y -= p.line;
    }

    // The verification code, and the closing lines.
    y -= p.line;
    if let Some(url) = &r.verify_url {
        let (qx, qy) = match layout {
            // Top right, beside the office's details.
            Layout::A4 => (p.width - p.margin - p.qr, height - p.margin - p.qr),
            Layout::Roll80 => (x, y - p.qr),
        };
        match layer {
            Some(layer) => draw_qr(layer, url, qx, qy, p.qr)?,
            // Still build the code, so a link that cannot be one fails before anything prints.
            None => drop(qr_modules(url)?),
        }
        let caption_y = qy - p.line + 10;
        text(
            "Scan to verify this receipt",
            small,
            qx,
            caption_y,
            &fonts.regular,
        );
        if layout == Layout::Roll80 {
            y = caption_y - p.line;
        }
    }
    y -= p.line / 2;
    for line in wrap(
        "Thank you for your payment. Keep this receipt as proof of payment.",
        p.columns + 4,
    ) {
        text(&line, small, x, y, &fonts.regular);
        y -= p.line - 10;
    }
    Ok(y)
}

/// How tall a receipt's page is: A4 always; a roll as long as the receipt, so a thermal
/// printer feeds no blank paper after it.
fn page_height(fonts: &Fonts, layout: Layout, r: &Receipt) -> Result<i32, RenderError> {
    let p = layout.page();
    match layout {
        Layout::A4 => Ok(p.height),
        Layout::Roll80 => {
            let lowest = draw(None, fonts, layout, p.height, r)?;
            Ok(p.height - lowest + p.margin)
        }
    }
}

/// Renders `receipts`, one per page, as one PDF.
pub fn render(receipts: &[Receipt], layout: Layout) -> Result<Vec<u8>, RenderError> {
    let first = receipts.first().ok_or(RenderError::Empty)?;
    let p = layout.page();
    let pdf = |e: printpdf::Error| RenderError::Pdf(e.to_string());
    let doc = PdfDocument::empty(format!("Receipt {}", first.receipt_number));
    let doc: PdfDocumentReference =
        doc.with_conformance(PdfConformance::Custom(CustomPdfConformance {
            allows_default_fonts: true,
            requires_icc_profile: false,
            requires_xmp_metadata: false,
            ..CustomPdfConformance::default()
        }));
    let fonts = Fonts {
        regular: doc.add_builtin_font(BuiltinFont::Helvetica).map_err(pdf)?,
        bold: doc
            .add_builtin_font(BuiltinFont::HelveticaBold)
            .map_err(pdf)?,
    };
    for r in receipts {
        let height = page_height(&fonts, layout, r)?;
        let (page, layer) = doc.add_page(mm(p.width), mm(height), "receipt");
        draw(
            Some(&doc.get_page(page).get_layer(layer)),
            &fonts,
            layout,
            height,
            r,
        )?;
    }
    doc.save_to_bytes().map_err(pdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_at_spaces_and_splits_what_cannot() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn a_qr_svg_is_one_square_path_with_a_quiet_zone() {
        let svg = qr_svg("https://sandbox.example/checkout/abc").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Version 3 (29 modules) plus 4 modules of quiet zone on each side.
        assert!(svg.contains("viewBox=\"0 0 37 37\""), "{svg}");
        assert_eq!(svg.matches("<path").count(), 1);
    }

    #[test]
    fn times_print_in_nairobi() {
        let at = time::macros::datetime!(2026-11-27 21:30 UTC);
        assert_eq!(nairobi_time(at), "28 Nov 2026, 00:30 EAT");
    }
}
