//! The original of an avatar without its metadata, byte for byte otherwise:
//! its compressed pixels as they came, so the stored original loses nothing
//! to a second lossy encoding and costs no encoding at all. Only the parts
//! that draw the picture are kept; EXIF (with GPS), XMP, ICC profiles, IPTC,
//! comments, text chunks, extra frames and anything after the end are not.
//!
//! Callers use it only for images that decoded whole and need no turning
//! (EXIF orientation 1): any structure this parser does not follow exactly
//! gives `None`, and the caller re-encodes instead.

use image::ImageFormat;

/// `bytes` without metadata, when `format` is one this strips (JPEG, PNG)
/// and its structure is as expected.
pub fn without_metadata(bytes: &[u8], format: ImageFormat) -> Option<Vec<u8>> {
    match format {
        ImageFormat::Jpeg => jpeg(bytes),
        ImageFormat::Png => png(bytes),
        _ => None,
    }
}

/// JPEG markers kept with their segment: frame headers (SOF0–SOF15 but the
/// reserved JPG, including DHT and DAC), DQT, DRI, DNL, the JFIF header
/// (APP0) and Adobe's (APP14, which says how the colours are coded).
fn keeps_jpeg_segment(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF if marker != 0xC8)
        || matches!(marker, 0xDB | 0xDD | 0xDC | 0xE0 | 0xEE)
}

fn jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut at = 2;
    loop {
        // A marker: 0xFF (fill bytes of 0xFF allowed), then its code.
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        while *bytes.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at)?;
        at += 1;
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Some(out);
            }
            0x01 | 0xD0..=0xD7 | 0x00 | 0xD8 => return None,
            _ => {}
        }
        let length = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
        if length < 2 {
            return None;
        }
        let segment = bytes.get(at..at + length)?;
        at += length;
        if marker == 0xDA {
            // Start of scan: its header, then the entropy-coded data up to the
            // next marker (0xFF 0x00 is a stuffed byte, 0xFF 0xD0–D7 a restart).
            let start = at;
            loop {
                let next = at + bytes.get(at..)?.iter().position(|&b| b == 0xFF)?;
                match *bytes.get(next + 1)? {
                    0x00 | 0xD0..=0xD7 => at = next + 2,
                    0xFF => at = next + 1,
                    _ => {
                        at = next;
                        break;
                    }
                }
            }
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(segment);
            out.extend_from_slice(&bytes[start..at]);
        } else if keeps_jpeg_segment(marker) {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(segment);
        }
    }
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// PNG chunks kept: the header, the palette and its transparency, the pixel
/// data and the end. The colour chunks (gAMA, cHRM, sRGB, iCCP) go, as they
/// did when avatars were re-encoded from their pixels.
fn keeps_png_chunk(kind: &[u8]) -> bool {
    matches!(kind, b"IHDR" | b"PLTE" | b"tRNS" | b"IDAT" | b"IEND")
}

fn png(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&PNG_SIGNATURE);
    let mut at = PNG_SIGNATURE.len();
    loop {
        let length = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?);
        let length = usize::try_from(length).ok()?;
        // Length, type, data, CRC.
        let chunk = bytes.get(at..at + 12 + length)?;
        let kind = &chunk[4..8];
        at += chunk.len();
        if keeps_png_chunk(kind) {
            out.extend_from_slice(chunk);
        }
        if kind == b"IEND" {
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_metadata_and_trailing_bytes_go_the_picture_stays() {
        let mut jpeg = vec![0xFF, 0xD8];
        // APP0 JFIF (kept), APP1 EXIF (dropped), COM (dropped), DQT (kept).
        jpeg.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x04, b'J', b'F']);
        jpeg.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x06, b'E', b'x', b'i', b'f']);
        jpeg.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x04, b'h', b'i']);
        jpeg.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x03, 0x07]);
        // A scan whose data holds a stuffed 0xFF and a restart marker.
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0x01, 0x11, 0xFF, 0x00, 0x22]);
        jpeg.extend_from_slice(&[0xFF, 0xD0, 0x33, 0xFF, 0xD9]);
        jpeg.extend_from_slice(b"a zip file after the end");
        let stripped = without_metadata(&jpeg, ImageFormat::Jpeg);
        let mut expected = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, b'J', b'F'];
        expected.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x03, 0x07]);
        expected.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0x01, 0x11, 0xFF, 0x00, 0x22]);
        expected.extend_from_slice(&[0xFF, 0xD0, 0x33, 0xFF, 0xD9]);
        assert_eq!(stripped, Some(expected));
        // Cut short, or not a JPEG: nothing.
        assert_eq!(without_metadata(&jpeg[..20], ImageFormat::Jpeg), None);
        assert_eq!(without_metadata(b"GIF89a", ImageFormat::Jpeg), None);
    }

    #[test]
    fn png_text_and_colour_chunks_go_the_pixels_stay() {
        let chunk = |kind: &[u8; 4], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            c.extend_from_slice(&[0, 0, 0, 0]);
            c
        };
        let mut png = PNG_SIGNATURE.to_vec();
        for part in [
            chunk(b"IHDR", &[1; 13]),
            chunk(b"tEXt", b"GPS\0here"),
            chunk(b"eXIf", b"MM"),
            chunk(b"IDAT", b"pixels"),
            chunk(b"IEND", b""),
        ] {
            png.extend_from_slice(&part);
        }
        png.extend_from_slice(b"trailing");
        let mut expected = PNG_SIGNATURE.to_vec();
        for part in [
            chunk(b"IHDR", &[1; 13]),
            chunk(b"IDAT", b"pixels"),
            chunk(b"IEND", b""),
        ] {
            expected.extend_from_slice(&part);
        }
        assert_eq!(without_metadata(&png, ImageFormat::Png), Some(expected));
        assert_eq!(without_metadata(&png[..30], ImageFormat::Png), None);
    }
}
