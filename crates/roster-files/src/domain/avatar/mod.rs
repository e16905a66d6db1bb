//! Avatar processing: dimension check from the header, bounded decoding,
//! the original without metadata, and the size variants.

mod scaled;
mod strip;

use std::io::Cursor;

use bytes::Bytes;
use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits,
    codecs::{gif::GifEncoder, png::PngEncoder, webp::WebPEncoder},
    metadata::Orientation,
};
use roster_kit::{Error, Result, error::ErrorKind};

use super::{Variant, sniff::Sniffed};

/// Longest side of each derived variant.
pub const VARIANT_SIZES: [(Variant, u32); 2] = [(Variant::Size64, 64), (Variant::Size256, 256)];

const JPEG_QUALITY: u8 = 90;
/// Speed of GIF colour quantisation: 1 is best and slowest, 30 fastest.
const GIF_SPEED: i32 = 10;

/// The largest avatar accepted.
#[derive(Debug, Clone, Copy)]
pub struct AvatarLimits {
    pub max_width: u32,
    pub max_height: u32,
}

/// One encoded rendition.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub variant: Variant,
    pub content_type: &'static str,
    pub bytes: Bytes,
    pub width: u32,
    pub height: u32,
}

/// The format of an accepted avatar, or `UNSUPPORTED_MEDIA_TYPE`.
pub fn avatar_format(sniffed: Option<Sniffed>) -> Result<(ImageFormat, &'static str)> {
    use super::sniff::{GIF, JPEG, PNG, WEBP};
    let format = match sniffed {
        Some(s) if s == PNG => ImageFormat::Png,
        Some(s) if s == JPEG => ImageFormat::Jpeg,
        Some(s) if s == GIF => ImageFormat::Gif,
        Some(s) if s == WEBP => ImageFormat::WebP,
        other => {
            let what = other.map_or("unrecognised data", |s| s.content_type);
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("an avatar must be a PNG, JPEG, GIF or WebP image, not {what}"),
            ));
        }
    };
    Ok((format, format.to_mime_type()))
}

fn image_invalid(err: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "IMAGE_INVALID",
        format!("the avatar does not decode as an image: {err}"),
    )
}

fn too_large(width: u32, height: u32, limits: AvatarLimits) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "IMAGE_TOO_LARGE",
        format!(
            "the avatar is {width}x{height} pixels; at most {}x{} are accepted",
            limits.max_width, limits.max_height
        ),
    )
}

/// Checks an avatar and makes its renditions. Oversized images are refused
/// from their header, before any pixel is decoded; the image must decode
/// whole. Nothing of the input but its picture survives: EXIF, GPS, XMP, ICC
/// profiles, comments and extra frames are dropped.
///
/// The original is stored as it came without its metadata ([`strip`]) when
/// it is a JPEG or PNG that needs no turning; otherwise it is decoded,
/// turned upright (EXIF orientation) and re-encoded in its format. The
/// variants come from a JPEG decoded straight at a fraction of its size
/// ([`scaled`]), or from the decoded picture.
///
/// CPU-bound: run it on a blocking thread.
pub fn process(bytes: &[u8], format: ImageFormat, limits: AvatarLimits) -> Result<Vec<Rendition>> {
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(image_invalid)?;
    if width == 0 || height == 0 {
        return Err(image_invalid("it has no pixels"));
    }
    if width > limits.max_width || height > limits.max_height {
        return Err(too_large(width, height, limits));
    }
    let largest = VARIANT_SIZES
        .iter()
        .map(|(_, size)| *size)
        .max()
        .unwrap_or(0);
    let scaled = match format {
        ImageFormat::Jpeg => u16::try_from(largest)
            .ok()
            .and_then(|size| scaled::decode(bytes, size, limits)),
        _ => None,
    };
    let (mut source, orientation, full_size) = match scaled {
        Some((image, orientation)) => (image, orientation, false),
        None => {
            let (image, orientation) = decode(bytes, format, width, height, limits)?;
            (image, orientation, true)
        }
    };
    let upright = orientation == Orientation::NoTransforms;
    let stripped = upright
        .then(|| strip::without_metadata(bytes, format))
        .flatten();
    source.apply_orientation(orientation);

    let mut renditions = Vec::with_capacity(1 + VARIANT_SIZES.len());
    renditions.push(match stripped {
        Some(stripped) => Rendition {
            variant: Variant::Original,
            content_type: format.to_mime_type(),
            bytes: Bytes::from(stripped),
            width,
            height,
        },
        None if full_size => encode(&source, format, Variant::Original)?,
        None => {
            let (mut image, orientation) = decode(bytes, format, width, height, limits)?;
            image.apply_orientation(orientation);
            encode(&image, format, Variant::Original)?
        }
    });
    // Largest variant first, each smaller one from the one before: shrinking
    // 256 px to 64 costs nothing next to shrinking the original again.
    for (variant, size) in VARIANT_SIZES.iter().rev() {
        source = shrink(&source, *size)?;
        renditions.push(encode(&source, format, *variant)?);
    }
    renditions[1..].reverse();
    Ok(renditions)
}

/// The whole picture, decoded within `limits`, with its EXIF orientation
/// (not applied).
fn decode(
    bytes: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
    limits: AvatarLimits,
) -> Result<(DynamicImage, Orientation)> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_width);
    decode_limits.max_image_height = Some(limits.max_height);
    // The decoded pixels (at most 16 bytes each) plus the decoder's own buffers.
    decode_limits.max_alloc =
        Some(u64::from(limits.max_width) * u64::from(limits.max_height) * 16 + 64 * 1024 * 1024);
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(|err| match err {
        image::ImageError::Limits(_) => too_large(width, height, limits),
        other => image_invalid(other),
    })?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|err| match err {
        image::ImageError::Limits(_) => too_large(width, height, limits),
        other => image_invalid(other),
    })?;
    Ok((image, orientation))
}

/// `image` scaled to fit `size`×`size`, keeping its aspect ratio; never
/// enlarged. A bilinear (triangle) convolution, as `image`'s `resize` does,
/// with SIMD and alpha premultiplied (no dark fringes around transparency).
pub fn shrink(image: &DynamicImage, size: u32) -> Result<DynamicImage> {
    let (width, height) = (image.width(), image.height());
    if width <= size && height <= size {
        return Ok(image.clone());
    }
    let ratio = f64::min(
        f64::from(size) / f64::from(width),
        f64::from(size) / f64::from(height),
    );
    let scaled = |side: u32| ((f64::from(side) * ratio).round() as u32).clamp(1, size);
    // The resizer takes 8-bit RGB(A) and grey as they are; other layouts
    // (16-bit, float) are converted once.
    let source = match image {
        DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_)
        | DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_) => std::borrow::Cow::Borrowed(image),
        other if other.color().has_alpha() => {
            std::borrow::Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8()))
        }
        other => std::borrow::Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    };
    let mut target = DynamicImage::new(scaled(width), scaled(height), source.color());
    fast_image_resize::Resizer::new()
        .resize(
            source.as_ref(),
            &mut target,
            &fast_image_resize::ResizeOptions::new().resize_alg(
                fast_image_resize::ResizeAlg::Convolution(fast_image_resize::FilterType::Bilinear),
            ),
        )
        .map_err(Error::internal)?;
    Ok(target)
}

/// JPEG with `jpeg-encoder` (SIMD); 8-bit RGB and grey are encoded as they
/// are, anything else converted to RGB once.
fn encode_jpeg(image: &DynamicImage, out: &mut Vec<u8>) -> Result<()> {
    let too_large = || Error::internal("an avatar side exceeds what JPEG encodes (65535)");
    let width = u16::try_from(image.width()).map_err(|_| too_large())?;
    let height = u16::try_from(image.height()).map_err(|_| too_large())?;
    let encoder = jpeg_encoder::Encoder::new(out, JPEG_QUALITY);
    let result = match image {
        DynamicImage::ImageRgb8(pixels) => {
            encoder.encode(pixels.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        }
        DynamicImage::ImageLuma8(pixels) => encoder.encode(
            pixels.as_raw(),
            width,
            height,
            jpeg_encoder::ColorType::Luma,
        ),
        other => encoder.encode(
            other.to_rgb8().as_raw(),
            width,
            height,
            jpeg_encoder::ColorType::Rgb,
        ),
    };
    result.map_err(Error::internal)
}

fn encode(image: &DynamicImage, format: ImageFormat, variant: Variant) -> Result<Rendition> {
    let mut out = Vec::new();
    let result = match format {
        ImageFormat::Jpeg => {
            encode_jpeg(image, &mut out)?;
            Ok(())
        }
        ImageFormat::Png => image.write_with_encoder(PngEncoder::new(&mut out)),
        ImageFormat::WebP => {
            let pixels = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            pixels.write_with_encoder(WebPEncoder::new_lossless(&mut out))
        }
        ImageFormat::Gif => {
            let mut encoder = GifEncoder::new_with_speed(&mut out, GIF_SPEED);
            encoder.encode_frame(image::Frame::new(image.to_rgba8()))
        }
        other => {
            return Err(Error::internal(format!("no avatar encoder for {other:?}")));
        }
    };
    result.map_err(Error::internal)?;
    Ok(Rendition {
        variant,
        content_type: format.to_mime_type(),
        bytes: Bytes::from(out),
        width: image.width(),
        height: image.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: AvatarLimits = AvatarLimits {
        max_width: 1000,
        max_height: 1000,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut out = Vec::new();
        image
            .write_with_encoder(PngEncoder::new(&mut out))
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn variants_keep_the_aspect_ratio_and_never_enlarge() {
        let renditions =
            process(&png(600, 300), ImageFormat::Png, LIMITS).unwrap_or_else(|e| panic!("{e}"));
        let sizes: Vec<_> = renditions
            .iter()
            .map(|r| (r.variant, r.width, r.height))
            .collect();
        assert_eq!(
            sizes,
            vec![
                (Variant::Original, 600, 300),
                (Variant::Size64, 64, 32),
                (Variant::Size256, 256, 128)
            ]
        );
        let small =
            process(&png(40, 20), ImageFormat::Png, LIMITS).unwrap_or_else(|e| panic!("{e}"));
        assert!(small.iter().all(|r| (r.width, r.height) == (40, 20)));
    }

    #[test]
    fn every_accepted_format_is_re_encoded_in_kind() {
        let source = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(300, 150, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
        }));
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let input = encode(&source, format, Variant::Original)
                .unwrap_or_else(|e| panic!("{format:?}: {e}"))
                .bytes;
            let renditions =
                process(&input, format, LIMITS).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            for rendition in renditions {
                assert_eq!(rendition.content_type, format.to_mime_type());
                let decoded = image::load_from_memory_with_format(&rendition.bytes, format)
                    .unwrap_or_else(|e| panic!("{format:?} {:?}: {e}", rendition.variant));
                assert_eq!(
                    (decoded.width(), decoded.height()),
                    (rendition.width, rendition.height)
                );
            }
        }
    }

    const SMALL: AvatarLimits = AvatarLimits {
        max_width: 64,
        max_height: 64,
    };
    const FORMATS: [ImageFormat; 4] = [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ];

    /// A small valid image of each accepted format.
    fn samples() -> Vec<(ImageFormat, Vec<u8>)> {
        let source = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(12, 9, |x, y| {
            image::Rgba([(x * 20) as u8, (y * 25) as u8, 7, 255])
        }));
        FORMATS
            .iter()
            .map(|&format| {
                let bytes = encode(&source, format, Variant::Original)
                    .unwrap_or_else(|e| panic!("{format:?}: {e}"))
                    .bytes
                    .to_vec();
                (format, bytes)
            })
            .collect()
    }

    fn typed_refusal(result: Result<Vec<Rendition>>) -> std::result::Result<(), String> {
        match result {
            Ok(renditions) if renditions.len() == 1 + VARIANT_SIZES.len() => Ok(()),
            Ok(renditions) => Err(format!("{} renditions", renditions.len())),
            Err(err) if ["IMAGE_INVALID", "IMAGE_TOO_LARGE"].contains(&err.reason) => Ok(()),
            Err(err) => Err(format!("untyped refusal: {err}")),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_bytes_are_refused_with_a_typed_error(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            format in proptest::sample::select(FORMATS.to_vec()),
        ) {
            proptest::prop_assert_eq!(typed_refusal(process(&bytes, format, SMALL)), Ok(()));
        }

        #[test]
        fn damaged_images_are_refused_with_a_typed_error_or_re_encoded(
            sample in proptest::sample::select(samples()),
            damage in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let (format, mut bytes) = sample;
            for (at, value) in damage {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            let keep = cut.index(bytes.len() + 1).max(bytes.len() / 2);
            bytes.truncate(keep);
            proptest::prop_assert_eq!(typed_refusal(process(&bytes, format, SMALL)), Ok(()));
        }
    }

    #[test]
    fn every_sniffed_type_is_an_avatar_format_or_unsupported() {
        use crate::domain::sniff::sniff;
        for (format, bytes) in samples() {
            let sniffed = sniff(&bytes);
            assert_eq!(avatar_format(sniffed).ok().map(|(f, _)| f), Some(format));
        }
        for other in [&b"%PDF-1.7"[..], b"hello", b""] {
            let err = avatar_format(sniff(other)).err();
            assert_eq!(err.map(|e| e.reason), Some("UNSUPPORTED_MEDIA_TYPE"));
        }
    }

    #[test]
    fn oversized_images_are_refused_from_the_header() {
        let err = process(&png(1001, 10), ImageFormat::Png, LIMITS).err();
        assert_eq!(err.map(|e| e.reason), Some("IMAGE_TOO_LARGE"));
    }

    /// Peak signal-to-noise ratio of `a` against `b` (same size, RGBA), in dB.
    fn psnr(a: &DynamicImage, b: &DynamicImage) -> f64 {
        let (a, b) = (a.to_rgba8(), b.to_rgba8());
        assert_eq!(a.dimensions(), b.dimensions());
        let squared: f64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum();
        let mse = squared / a.as_raw().len() as f64;
        if mse == 0.0 {
            return f64::INFINITY;
        }
        10.0 * (255.0 * 255.0 / mse).log10()
    }

    /// A photo-like test picture: smooth gradients, a hard edge and fine texture.
    fn picture(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            let edge = if x * 3 > width { 200 } else { 40 };
            let texture = ((x / 3 + y / 5) % 2) as u8 * 24;
            image::Rgb([
                (x * 255 / width) as u8,
                edge + texture,
                (y * 255 / height) as u8,
            ])
        }))
    }

    #[test]
    fn shrunk_variants_match_the_reference_resize() {
        for (width, height) in [(1200, 800), (640, 1024), (300, 300)] {
            let original = picture(width, height);
            for size in [256, 64] {
                let ours = shrink(&original, size).unwrap_or_else(|e| panic!("{e}"));
                let reference = original.resize(size, size, image::imageops::FilterType::Triangle);
                assert_eq!(
                    (ours.width(), ours.height()),
                    (reference.width(), reference.height()),
                    "{width}x{height} to {size}"
                );
                let db = psnr(&ours, &reference);
                assert!(db >= 30.0, "{width}x{height} to {size}: PSNR {db:.1} dB");
            }
        }
    }

    #[test]
    fn the_64_variant_made_from_the_256_one_matches_the_reference() {
        let original = picture(2000, 1500);
        let processed = process(
            &encode(&original, ImageFormat::Png, Variant::Original)
                .unwrap_or_else(|e| panic!("{e}"))
                .bytes,
            ImageFormat::Png,
            AvatarLimits {
                max_width: 4000,
                max_height: 4000,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let small = processed
            .iter()
            .find(|r| r.variant == Variant::Size64)
            .unwrap_or_else(|| panic!("no 64 px variant"));
        let decoded = image::load_from_memory_with_format(&small.bytes, ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{e}"));
        let reference = original.resize(64, 64, image::imageops::FilterType::Triangle);
        let db = psnr(&decoded, &reference);
        assert!(db >= 30.0, "PSNR {db:.1} dB");
    }

    #[test]
    fn re_encoded_jpegs_stay_close_to_their_source() {
        let source = picture(800, 600);
        let input = encode(&source, ImageFormat::Png, Variant::Original)
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes;
        let as_jpeg = encode_rendition_of(&input);
        let decoded = image::load_from_memory_with_format(&as_jpeg, ImageFormat::Jpeg)
            .unwrap_or_else(|e| panic!("{e}"));
        let db = psnr(&decoded, &source);
        assert!(db >= 30.0, "PSNR {db:.1} dB");
    }

    /// The variants as avatars were made before scaled decoding: the whole
    /// picture decoded, then shrunk.
    fn reference_variant(input: &[u8], format: ImageFormat, size: u32) -> DynamicImage {
        let full =
            image::load_from_memory_with_format(input, format).unwrap_or_else(|e| panic!("{e}"));
        let mut source = full;
        for (_, each) in VARIANT_SIZES.iter().rev() {
            source = shrink(&source, *each).unwrap_or_else(|e| panic!("{e}"));
            if *each == size {
                break;
            }
        }
        source
    }

    #[test]
    fn jpeg_variants_from_scaled_decoding_match_those_of_the_full_picture() {
        let limits = AvatarLimits {
            max_width: 4000,
            max_height: 4000,
        };
        for (width, height) in [(3000, 2000), (1024, 1024), (700, 1300), (300, 200)] {
            let input = encode(
                &picture(width, height),
                ImageFormat::Jpeg,
                Variant::Original,
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes;
            let renditions =
                process(&input, ImageFormat::Jpeg, limits).unwrap_or_else(|e| panic!("{e}"));
            for (variant, size) in VARIANT_SIZES {
                let ours = renditions
                    .iter()
                    .find(|r| r.variant == variant)
                    .unwrap_or_else(|| panic!("no {size} px variant"));
                let ours = image::load_from_memory_with_format(&ours.bytes, ImageFormat::Jpeg)
                    .unwrap_or_else(|e| panic!("{e}"));
                let reference = reference_variant(&input, ImageFormat::Jpeg, size);
                assert_eq!(
                    (ours.width(), ours.height()),
                    (reference.width(), reference.height()),
                    "{width}x{height} at {size}"
                );
                let db = psnr(&ours, &reference);
                assert!(db >= 30.0, "{width}x{height} at {size}: PSNR {db:.1} dB");
            }
        }
    }

    #[test]
    fn an_upright_jpeg_or_png_original_keeps_its_exact_pixels_without_its_metadata() {
        let limits = AvatarLimits {
            max_width: 2000,
            max_height: 2000,
        };
        let source = picture(640, 480);
        for format in [ImageFormat::Jpeg, ImageFormat::Png] {
            let input = encode(&source, format, Variant::Original)
                .unwrap_or_else(|e| panic!("{e}"))
                .bytes;
            let mut tagged = input.to_vec();
            match format {
                // A comment right after SOI.
                ImageFormat::Jpeg => {
                    tagged.splice(2..2, [0xFF, 0xFE, 0x00, 0x06, b'G', b'P', b'S', b'!']);
                }
                // A text chunk right after IHDR (8 + 25 bytes in).
                _ => {
                    let text = b"GPS\0somewhere";
                    let mut chunk = (text.len() as u32).to_be_bytes().to_vec();
                    chunk.extend_from_slice(b"tEXt");
                    chunk.extend_from_slice(text);
                    chunk.extend_from_slice(&[0; 4]);
                    tagged.splice(33..33, chunk);
                }
            }
            let renditions = process(&tagged, format, limits).unwrap_or_else(|e| panic!("{e}"));
            let original = &renditions[0];
            assert_eq!(original.variant, Variant::Original);
            assert!(
                !original.bytes.windows(3).any(|w| w == b"GPS"),
                "{format:?}: the metadata is gone"
            );
            let stored = image::load_from_memory_with_format(&original.bytes, format)
                .unwrap_or_else(|e| panic!("{e}"));
            let given = image::load_from_memory_with_format(&input, format)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                stored.to_rgba8(),
                given.to_rgba8(),
                "{format:?}: not one pixel changed"
            );
        }
    }

    /// The JPEG original `process` makes of a (lossless) input's pixels.
    fn encode_rendition_of(png: &[u8]) -> Bytes {
        let image = image::load_from_memory_with_format(png, ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{e}"));
        encode(&image, ImageFormat::Jpeg, Variant::Original)
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes
    }
}
