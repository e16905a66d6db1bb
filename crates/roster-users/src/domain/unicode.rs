//! Text as people write it: normalisation and the characters a name may not
//! hold. The rules are Unicode's own data (ICU4X, compiled in), so they follow
//! the Unicode version of the `icu_*` crates.

use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::{
    CodePointMapData, CodePointSetData,
    props::{BidiControl, DefaultIgnorableCodePoint, GeneralCategory},
};

/// The text in Normalization Form C: the same text, composed the one way
/// (`"e\u{301}"` becomes `"é"`). What the user service stores for names and
/// display names, and what their length limits count.
pub fn nfc(text: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfc().normalize(text)
}

/// The text in Normalization Form KC: NFC, and compatibility characters
/// replaced by what they are variants of (full-width `ｊａｎｅ` → `jane`,
/// `ﬁ` → `fi`, `ℌ` → `H`, a no-break space → a space). Two user names with the
/// same NFKC form look alike; only one of them may exist.
pub fn nfkc(text: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfkc().normalize(text)
}

fn category(c: char) -> GeneralCategory {
    CodePointMapData::<GeneralCategory>::new().get(c)
}

/// Characters that are not text of their own: controls (Cc), line and paragraph
/// separators, surrogates, private use, unassigned code points and
/// noncharacters.
fn is_not_text(c: char) -> bool {
    matches!(
        category(c),
        GeneralCategory::Control
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
    )
}

/// Characters that show nothing by themselves: format characters (Cf: zero
/// width space and joiners, bidirectional controls, soft hyphen, tags …) and
/// every other Default_Ignorable_Code_Point (Hangul fillers, variation
/// selectors, combining grapheme joiner …).
fn is_invisible(c: char) -> bool {
    category(c) == GeneralCategory::Format
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Invisible characters that writing needs inside visible text: the zero width
/// (non-)joiner (Indic and Arabic scripts, emoji sequences such as 👩‍💻),
/// variation selectors (❤️ as emoji), Mongolian free variation selectors and
/// the tag characters of subdivision flags (🏴 of Scotland).
fn is_writing_joiner(c: char) -> bool {
    matches!(c,
        '\u{200C}' | '\u{200D}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}'
        | '\u{180B}'..='\u{180F}'
        | '\u{E0020}'..='\u{E007F}')
}

/// The first character a user name may not hold, if any: control and other
/// non-text characters, and every invisible character (format characters,
/// default ignorables, joiners included: a name is an identifier, and an
/// invisible character would let two different names look the same).
pub fn forbidden_in_name(text: &str) -> Option<char> {
    text.chars().find(|&c| is_not_text(c) || is_invisible(c))
}

/// The first character a display name may not hold, if any: control and other
/// non-text characters, bidirectional controls (they reorder what follows and
/// can disguise a name), and invisible characters other than the joiners and
/// selectors that writing needs (see [`is_writing_joiner`]).
pub fn forbidden_in_display_name(text: &str) -> Option<char> {
    let bidi = CodePointSetData::new::<BidiControl>();
    text.chars()
        .find(|&c| is_not_text(c) || bidi.contains(c) || (is_invisible(c) && !is_writing_joiner(c)))
}

/// Whether the text shows something: a character that is neither white space,
/// invisible, nor a combining mark (which needs a base to show on).
pub fn has_visible_char(text: &str) -> bool {
    text.chars().any(|c| {
        !c.is_whitespace()
            && !is_invisible(c)
            && !matches!(
                category(c),
                GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
            )
    })
}

/// How an offending character reads in an error message: its code point and,
/// where it prints, itself.
pub fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_variants_normalise_to_one_form() {
        assert_eq!(nfc("Jose\u{301}"), "José");
        assert_eq!(nfc("José"), "José");
        assert_eq!(nfkc("ｊａｎｅ"), "jane");
        assert_eq!(nfkc("ﬁona"), "fiona");
        assert_eq!(nfkc("Zoë"), nfkc("Zoe\u{308}"));
        assert_ne!(nfkc("Jane"), nfkc("jane"), "case is kept");
    }

    #[test]
    fn names_refuse_every_invisible_and_control_character() {
        for bad in [
            "ja\u{200B}ne", // zero width space
            "ja\u{200D}ne", // zero width joiner
            "ja\u{200C}ne", // zero width non-joiner
            "ja\u{202E}ne", // right-to-left override
            "ja\u{2066}ne", // left-to-right isolate
            "ja\u{00AD}ne", // soft hyphen
            "ja\u{FEFF}ne", // byte order mark
            "\u{3164}",     // Hangul filler
            "ja\u{FE0F}",   // variation selector
            "ja\u{7}ne",    // bell
            "ja\u{2028}ne", // line separator
            "ja\u{E000}",   // private use
            "ja\u{FFFF}",   // noncharacter
        ] {
            assert!(forbidden_in_name(bad).is_some(), "{bad:?}");
        }
        for good in [
            "jane",
            "José",
            "Ωμέγα",
            "Жанна",
            "محمد",
            "שלום",
            "李小龙",
            "jane doe",
        ] {
            assert_eq!(forbidden_in_name(good), None, "{good:?}");
        }
    }

    #[test]
    fn display_names_keep_what_writing_needs() {
        for good in [
            "👩\u{200D}💻 Ada",                                         // emoji ZWJ sequence
            "❤\u{FE0F}",                                                // emoji presentation
            "می\u{200C}خواهم",                                          // Persian ZWNJ
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}", // flag of Scotland
            "Émile Zola",
        ] {
            assert_eq!(forbidden_in_display_name(good), None, "{good:?}");
        }
        for bad in [
            "ad\u{202E}nimda",
            "a\u{200B}b",
            "\u{3164}",
            "a\u{7}",
            "a\u{2029}b",
        ] {
            assert!(forbidden_in_display_name(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn visible_text_needs_a_base_character() {
        assert!(has_visible_char("a"));
        assert!(has_visible_char(" 李 "));
        assert!(!has_visible_char(" \u{301}\u{200D} "));
        assert!(!has_visible_char("\u{3000}"));
    }
}
