//! Content-type sniffing from the first bytes of a file, and the rule deciding
//! whether a declared content type agrees with the content.

use roster_kit::Error;

/// Bytes needed to recognise every signature below.
pub const SNIFF_LEN: usize = 16;

/// What the content looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The canonical media type.
    pub content_type: &'static str,
    /// Declared types that agree with this content besides the canonical one.
    aliases: &'static [&'static str],
    /// A strict signature identifies the format for sure: any other declared type
    /// is refused. Container formats (ZIP, MP4, Ogg, …) carry many declared types
    /// (`.docx`, `.epub`, `audio/mp4`, …) and only refuse strict types.
    strict: bool,
}

impl Sniffed {
    fn accepts(&self, declared: &str) -> bool {
        declared == self.content_type || self.aliases.contains(&declared)
    }
}

const fn strict(content_type: &'static str, aliases: &'static [&'static str]) -> Sniffed {
    Sniffed {
        content_type,
        aliases,
        strict: true,
    }
}

const fn loose(content_type: &'static str) -> Sniffed {
    Sniffed {
        content_type,
        aliases: &[],
        strict: false,
    }
}

pub const PNG: Sniffed = strict("image/png", &["image/apng"]);
pub const JPEG: Sniffed = strict("image/jpeg", &["image/pjpeg"]);
pub const GIF: Sniffed = strict("image/gif", &[]);
pub const WEBP: Sniffed = strict("image/webp", &[]);
const TIFF: Sniffed = strict("image/tiff", &[]);
const PDF: Sniffed = strict("application/pdf", &[]);
const SEVEN_ZIP: Sniffed = strict("application/x-7z-compressed", &[]);
const WASM: Sniffed = strict("application/wasm", &[]);
const WAV: Sniffed = strict(
    "audio/wav",
    &["audio/x-wav", "audio/wave", "audio/vnd.wave"],
);
const GZIP: Sniffed = loose("application/gzip");
const ZIP: Sniffed = loose("application/zip");
const OGG: Sniffed = loose("application/ogg");
const MP3: Sniffed = loose("audio/mpeg");
const MP4: Sniffed = loose("video/mp4");
const WEBM: Sniffed = loose("video/webm");

const STRICT: [Sniffed; 9] = [PNG, JPEG, GIF, WEBP, TIFF, PDF, SEVEN_ZIP, WASM, WAV];

/// Recognises the content from its first bytes (at least [`SNIFF_LEN`] of them
/// unless the content is shorter).
pub fn sniff(head: &[u8]) -> Option<Sniffed> {
    let riff = |kind: &[u8]| head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == kind;
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(PNG)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(JPEG)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(GIF)
    } else if riff(b"WEBP") {
        Some(WEBP)
    } else if riff(b"WAVE") {
        Some(WAV)
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some(TIFF)
    } else if head.starts_with(b"%PDF-") {
        Some(PDF)
    } else if head.starts_with(&[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C]) {
        Some(SEVEN_ZIP)
    } else if head.starts_with(b"\0asm") {
        Some(WASM)
    } else if head.starts_with(&[0x1F, 0x8B, 0x08]) {
        Some(GZIP)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(ZIP)
    } else if head.starts_with(b"OggS") {
        Some(OGG)
    } else if head.starts_with(b"ID3") {
        Some(MP3)
    } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
        Some(MP4)
    } else if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some(WEBM)
    } else {
        None
    }
}

/// Lower case, without parameters, with common aliases folded; `None` when empty.
pub fn normalise(declared: &str) -> Option<String> {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" => None,
        "image/jpg" => Some("image/jpeg".to_owned()),
        "application/x-gzip" => Some("application/gzip".to_owned()),
        _ => Some(essence),
    }
}

/// Checks a declared type (already [`normalise`]d) is a plausible media type.
pub fn validate_declared(declared: &str, field: &str) -> Result<(), Error> {
    let valid_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let valid = declared.len() <= 127
        && declared
            .split_once('/')
            .is_some_and(|(kind, sub)| valid_token(kind) && valid_token(sub));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_field(
            field,
            "must be a media type such as \"image/png\", at most 127 characters",
        ))
    }
}

/// The type to store, or `CONTENT_TYPE_MISMATCH` naming both types when the
/// declaration disagrees with the content.
pub fn resolve(
    declared: Option<&str>,
    sniffed: Option<Sniffed>,
    field: &str,
) -> Result<String, Error> {
    let mismatch = |content: &str| {
        let declared = declared.unwrap_or_default();
        let mut err = Error::invalid_field(
            field,
            format!("declared content type {declared} does not match the content ({content})"),
        );
        err.reason = "CONTENT_TYPE_MISMATCH";
        err
    };
    match (declared, sniffed) {
        (None, Some(sniffed)) => Ok(sniffed.content_type.to_owned()),
        (None, None) => Ok("application/octet-stream".to_owned()),
        (Some(declared), Some(sniffed)) => {
            if sniffed.accepts(declared) {
                Ok(declared.to_owned())
            } else if sniffed.strict || is_strict_type(declared) {
                Err(mismatch(sniffed.content_type))
            } else {
                Ok(declared.to_owned())
            }
        }
        (Some(declared), None) => {
            if is_strict_type(declared) {
                Err(mismatch("unrecognised data"))
            } else {
                Ok(declared.to_owned())
            }
        }
    }
}

/// True for types whose content always carries a signature we recognise.
fn is_strict_type(declared: &str) -> bool {
    STRICT.iter().any(|s| s.accepts(declared))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signatures_are_recognised() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(PNG));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(JPEG));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(WEBP));
        assert_eq!(sniff(b"hello world"), None);
    }

    #[test]
    fn a_lying_declaration_names_both_types() {
        let err = resolve(Some("image/png"), Some(JPEG), "header.content_type").err();
        let err = err.map(|e| (e.reason, e.message));
        assert!(
            matches!(&err, Some(("CONTENT_TYPE_MISMATCH", m)) if m.contains("image/png") && m.contains("image/jpeg"))
        );
        assert!(resolve(Some("image/png"), None, "f").is_err());
        assert!(resolve(Some("text/plain"), Some(PDF), "f").is_err());
    }

    #[test]
    fn containers_accept_their_many_declared_types() {
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(
            resolve(Some(docx), Some(ZIP), "f").ok().as_deref(),
            Some(docx)
        );
        assert!(resolve(Some("image/gif"), Some(ZIP), "f").is_err());
        assert_eq!(
            resolve(Some("text/plain"), None, "f").ok().as_deref(),
            Some("text/plain")
        );
        assert_eq!(
            resolve(None, None, "f").ok().as_deref(),
            Some("application/octet-stream")
        );
    }

    /// Bytes that often start with a known signature.
    fn heads() -> impl Strategy<Value = Vec<u8>> {
        let signatures: Vec<&'static [u8]> = vec![
            b"\x89PNG\r\n\x1a\n",
            &[0xFF, 0xD8, 0xFF],
            b"GIF89a",
            b"RIFF\0\0\0\0WEBP",
            b"RIFF\0\0\0\0WAVE",
            b"%PDF-",
            b"PK\x03\x04",
            b"\0\0\0\x18ftyp",
            b"",
        ];
        (
            proptest::sample::select(signatures),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(signature, rest)| [signature, rest.as_slice()].concat())
    }

    fn declarations() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            Just(String::new()),
            proptest::sample::select(vec![
                "image/png",
                "image/jpg",
                "IMAGE/JPEG; q=1",
                "text/plain",
                "application/pdf",
                "application/zip",
                "application/octet-stream",
                "video/mp4",
            ])
            .prop_map(str::to_owned),
        ]
    }

    proptest! {
        #[test]
        fn the_first_bytes_alone_decide_what_content_is(head in heads(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let whole = [head.as_slice(), tail.as_slice()].concat();
            let sniffed = sniff(&whole);
            prop_assert_eq!(sniffed, sniff(&whole[..whole.len().min(SNIFF_LEN)]));
            if let Some(sniffed) = sniffed {
                prop_assert!(validate_declared(sniffed.content_type, "f").is_ok());
            }
        }

        #[test]
        fn normalised_declarations_are_lower_case_essences(declared in declarations()) {
            if let Some(essence) = normalise(&declared) {
                prop_assert!(!essence.is_empty());
                prop_assert!(!essence.contains(';'));
                prop_assert_eq!(essence.trim(), essence.as_str());
                prop_assert_eq!(essence.to_ascii_lowercase(), essence.clone());
                prop_assert_eq!(normalise(&essence), Some(essence.clone()), "normalising twice changes nothing");
            }
        }

        #[test]
        fn any_declaration_and_content_resolve_or_name_the_field(declared in declarations(), head in heads()) {
            let declared = normalise(&declared).filter(|d| validate_declared(d, "f").is_ok());
            let sniffed = sniff(&head);
            match resolve(declared.as_deref(), sniffed, "header.content_type") {
                Ok(stored) => {
                    prop_assert!(validate_declared(&stored, "f").is_ok());
                    match (&declared, sniffed) {
                        // A sure signature is never stored under another type.
                        (_, Some(s)) if s.strict => prop_assert!(s.accepts(&stored)),
                        (Some(declared), _) => prop_assert_eq!(&stored, declared),
                        (None, Some(s)) => prop_assert_eq!(stored.as_str(), s.content_type),
                        (None, None) => prop_assert_eq!(stored.as_str(), "application/octet-stream"),
                    }
                }
                Err(err) => {
                    prop_assert_eq!(err.reason, "CONTENT_TYPE_MISMATCH");
                    prop_assert_eq!(&err.violations[0].field, "header.content_type");
                    prop_assert!(declared.is_some(), "only a declaration can disagree");
                }
            }
        }

        #[test]
        fn declared_types_are_valid_media_types_or_invalid_input(declared in any::<String>()) {
            match validate_declared(&declared, "header.content_type") {
                Ok(()) => {
                    prop_assert!(declared.len() <= 127);
                    prop_assert_eq!(declared.matches('/').count(), 1);
                }
                Err(err) => prop_assert_eq!(&err.violations[0].field, "header.content_type"),
            }
        }
    }

    #[test]
    fn declared_types_are_normalised() {
        assert_eq!(normalise(" Image/JPG ; q=1").as_deref(), Some("image/jpeg"));
        assert_eq!(normalise(""), None);
        assert!(validate_declared("text/plain", "f").is_ok());
        assert!(validate_declared("nonsense", "f").is_err());
    }
}
