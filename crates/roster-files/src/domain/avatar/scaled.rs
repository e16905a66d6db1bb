//! JPEG decoding at a fraction of the size: the decoder scales each 8×8
//! block's inverse DCT down (to 4×4, 2×2 or 1×1), so a picture needed only
//! for the small variants is never decoded at full size. zune-jpeg (image's
//! decoder) has no such mode; jpeg-decoder does.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, RgbImage, metadata::Orientation};
use jpeg_decoder::{Decoder, PixelFormat};

use super::AvatarLimits;

/// The picture decoded at the smallest scale whose longer side is still at
/// least `size` (or at full size when smaller), with its EXIF orientation
/// (not applied). `None` when this decoder does not take it (CMYK, 16-bit,
/// anything it fails on): the caller decodes in full, which also gives the
/// error an invalid image deserves.
pub fn decode(
    bytes: &[u8],
    size: u16,
    limits: AvatarLimits,
) -> Option<(DynamicImage, Orientation)> {
    let mut decoder = Decoder::new(Cursor::new(bytes));
    // Three bytes a pixel of the largest picture accepted, decoded in full.
    let most = u64::from(limits.max_width) * u64::from(limits.max_height) * 3;
    decoder.set_max_decoding_buffer_size(usize::try_from(most).ok()?);
    decoder.read_info().ok()?;
    let (width, height) = decoder.scale(size, size).ok()?;
    let pixel_format = decoder.info()?.pixel_format;
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let pixels = decoder.decode().ok()?;
    let (width, height) = (u32::from(width), u32::from(height));
    let image = match pixel_format {
        PixelFormat::RGB24 => DynamicImage::ImageRgb8(RgbImage::from_raw(width, height, pixels)?),
        PixelFormat::L8 => DynamicImage::ImageLuma8(GrayImage::from_raw(width, height, pixels)?),
        PixelFormat::L16 | PixelFormat::CMYK32 => return None,
    };
    Some((image, orientation))
}
