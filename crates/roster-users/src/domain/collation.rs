//! Alphabetical order and search of display names, as people expect them in
//! any script: the Unicode Collation Algorithm (ICU4X, CLDR data compiled in).
//!
//! Every display name is stored with its UCA sort key, written as lowercase hex
//! so that comparing the text byte-wise (`COLLATE "C"` on PostgreSQL, SQLite's
//! BINARY) is comparing the keys: ordering by it is an index scan.
//!
//! The keys are made at tertiary strength with lower case first: names compare
//! by their letters first (accents and case aside: "Émile" sorts next to
//! "Emma", "ángel" among the a's), then by accents, then lower case before upper
//! case ("al" < "Al"), then by id. Punctuation and spaces are not ignored
//! ("non-ignorable"), so "c++" is matched literally.
//!
//! A key starts with the primary weights of the whole name (the letters
//! without case or accents), then a level separator (byte 01), then the finer
//! levels. The primary weights of a name's first characters are a prefix of the
//! name's primary weights, so the names starting with a keyword, ignoring case
//! and accents, are exactly the keys starting with the keyword's primary
//! weights: one contiguous range of the sort index. Within it, the names equal
//! to the keyword at that level (same letters, whatever the case and accents)
//! are the keys that continue with the level separator (see [`KeywordKey`]).

use icu_collator::{
    CollatorBorrowed, CollatorPreferences,
    options::{AlternateHandling, CollatorOptions, Strength},
    preferences::{CollationCaseFirst, CollationNumericOrdering},
};
use icu_locale_core::Locale;
use sha2::{Digest, Sha256};

/// The root collation: the UCA order CLDR gives for no particular language.
pub const ROOT_LOCALE: &str = "und";

/// Longest stored sort key, in hex characters (1000 key bytes): far more than a
/// 100-character name needs in any script, and within PostgreSQL's limit for
/// an index entry. A longer key (only names built of characters with long
/// expansions) is cut; such names still sort by their first ~300 letters.
pub const MAX_SORT_KEY_CHARS: usize = 2000;

/// The byte that ends each level of a key.
const LEVEL_SEPARATOR: u8 = 0x01;

/// Changes when the way keys are written changes (not the collation data,
/// which [`Collation::fingerprint`] covers by itself).
const KEY_FORMAT: &str = "uca-tertiary-lowerfirst-nonignorable-hex-v1";

/// Names whose keys fingerprint a collation: they touch every script and rule
/// the order depends on, so a change of locale, of CLDR data or of the
/// collation code changes the fingerprint, and the stored keys are remade.
const PROBES: &[&str] = &[
    "a",
    "A",
    "ä",
    "å",
    "æ",
    "ø",
    "ß",
    "ı",
    "İ",
    "ñ",
    "ch",
    "ll",
    "ǆ",
    "ﬁ",
    "Émile",
    "Zoë",
    "Ωμέγα",
    "Жанна",
    "محمد",
    "שלום",
    "李小龙",
    "한국어",
    "ไทย",
    "हिन्दी",
    "😀",
    "1",
    "-",
    "c++",
    " ",
    "þ",
    "đ",
    "ł",
    "œ",
    "ŋ",
    "ə",
];

/// How display names sort and match under one locale.
pub struct Collation {
    locale: String,
    collator: CollatorBorrowed<'static>,
    fingerprint: i64,
}

impl std::fmt::Debug for Collation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collation")
            .field("locale", &self.locale)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl Collation {
    /// The collation of a BCP 47 locale (`"und"`: root, `"de"`, `"sv"`,
    /// `"zh-u-co-pinyin"`, …). Whatever the locale says, lower case sorts first
    /// and digits are not compared as numbers (a numeric order would break
    /// prefix search: "1" is not a prefix of "12" in it). A locale without data
    /// of its own falls back to its parent, finally root. `Err` describes a
    /// locale that does not parse.
    pub fn new(locale: &str) -> Result<Self, String> {
        let parsed = Locale::try_from_str(locale)
            .map_err(|err| format!("must be a BCP 47 locale such as \"und\" or \"de\" ({err})"))?;
        let mut preferences = CollatorPreferences::from(&parsed);
        preferences.case_first = Some(CollationCaseFirst::Lower);
        preferences.numeric_ordering = Some(CollationNumericOrdering::False);
        let mut options = CollatorOptions::default();
        options.strength = Some(Strength::Tertiary);
        options.alternate_handling = Some(AlternateHandling::NonIgnorable);
        let collator = CollatorBorrowed::try_new(preferences, options)
            .map_err(|err| format!("has no collation data ({err})"))?;
        let mut collation = Self {
            locale: parsed.to_string(),
            collator,
            fingerprint: 0,
        };
        collation.fingerprint = collation.compute_fingerprint();
        Ok(collation)
    }

    /// The root collation.
    pub fn root() -> Self {
        match Self::new(ROOT_LOCALE) {
            Ok(collation) => collation,
            // The root locale parses and its data is compiled in.
            Err(err) => unreachable!("the root collation: {err}"),
        }
    }

    /// The locale, in canonical BCP 47 form.
    pub fn locale(&self) -> &str {
        &self.locale
    }

    /// Identifies the keys this collation makes: stored with every key, so keys
    /// made under another locale or another version of the data are found and
    /// remade. Never 0 (which marks keys of no known collation).
    pub fn fingerprint(&self) -> i64 {
        self.fingerprint
    }

    fn compute_fingerprint(&self) -> i64 {
        let mut hash = Sha256::new();
        hash.update(KEY_FORMAT);
        hash.update([0]);
        hash.update(&self.locale);
        for probe in PROBES {
            hash.update([0]);
            hash.update(self.key_bytes(probe));
        }
        let digest = hash.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first) | 1
    }

    fn key_bytes(&self, text: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(text.len() * 3);
        match self.collator.write_sort_key_to(text, &mut key) {
            Ok(()) => key,
            Err(never) => match never {},
        }
    }

    /// The stored sort key of a display name: its UCA key in lowercase hex, at
    /// most [`MAX_SORT_KEY_CHARS`] characters.
    pub fn sort_key(&self, display_name: &str) -> String {
        let mut key = hex::encode(self.key_bytes(display_name));
        key.truncate(MAX_SORT_KEY_CHARS);
        key
    }

    /// What a keyword matches: its primary weights. `None` when it has none
    /// (nothing but ignorable characters, e.g. a lone combining accent), so
    /// it would match every name.
    pub fn keyword(&self, keyword: &str) -> Option<KeywordKey> {
        let key = self.key_bytes(keyword);
        let primary_end = key
            .iter()
            .position(|&b| b == LEVEL_SEPARATOR)
            .unwrap_or(key.len());
        (primary_end > 0).then(|| KeywordKey(hex::encode(&key[..primary_end])))
    }
}

/// A keyword's primary weights (hex): the sort keys of the display names it
/// matches all start with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordKey(String);

impl KeywordKey {
    /// Sort keys `[lower, upper)` of the names equal to the keyword at primary
    /// strength: the same letters, whatever their case and accents ("emile"
    /// and "Émile" for "EMILE"). Their primary level ends right after the
    /// keyword's, with the level separator 01.
    pub fn exact_range(&self) -> (String, String) {
        (format!("{}01", self.0), format!("{}02", self.0))
    }

    /// Sort keys `[lower, upper)` of the names that start with the keyword at
    /// primary strength and go on ("emilia" for "emil"): their primary level
    /// continues with a byte of 02 or more. `g` sorts after every hex digit.
    pub fn prefix_range(&self) -> (String, String) {
        (format!("{}02", self.0), format!("{}g", self.0))
    }

    /// Whether a stored sort key is in [`Self::exact_range`] or
    /// [`Self::prefix_range`].
    pub fn matches(&self, sort_key: &str) -> bool {
        sort_key.len() > self.0.len() && sort_key.starts_with(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use icu_collator::Collator;
    use proptest::prelude::*;

    use super::*;

    fn sorted<'a>(collation: &Collation, names: &[&'a str]) -> Vec<&'a str> {
        let mut names = names.to_vec();
        names.sort_by_key(|name| collation.sort_key(name));
        names
    }

    #[test]
    fn accented_names_sort_among_their_letters() {
        let root = Collation::root();
        assert_eq!(
            sorted(
                &root,
                &["zoe", "Zoë", "ángel", "Émile", "Emma", "adam", "Zoe"]
            ),
            ["adam", "ángel", "Émile", "Emma", "zoe", "Zoe", "Zoë"]
        );
    }

    #[test]
    fn lower_case_comes_first_where_the_letters_are_equal() {
        let root = Collation::root();
        assert_eq!(
            sorted(&root, &["Al", "alan", "AL", "al", "Alan", "aL"]),
            ["al", "aL", "Al", "AL", "alan", "Alan"]
        );
        assert_eq!(
            sorted(
                &root,
                &["Kristen", "Andre", "charlie", "Alice", "arthur", "adam"]
            ),
            ["adam", "Alice", "Andre", "arthur", "charlie", "Kristen"]
        );
    }

    #[test]
    fn scripts_sort_in_the_root_order() {
        let root = Collation::root();
        // Latin, Greek, Cyrillic, Hebrew, Arabic, then Han: the UCA's script order.
        assert_eq!(
            sorted(&root, &["李小龙", "محمد", "שלום", "Жанна", "Ωμέγα", "Zoë"]),
            ["Zoë", "Ωμέγα", "Жанна", "שלום", "محمد", "李小龙"]
        );
        assert_eq!(
            sorted(&root, &["Ωμέγα", "άλφα", "Βήτα", "ωμεγα"]),
            ["άλφα", "Βήτα", "ωμεγα", "Ωμέγα"]
        );
    }

    #[test]
    fn a_locale_tailors_the_order() {
        // Swedish puts ä after z; the root order puts it with a.
        let names = ["Ärla", "Zara", "Anna"];
        assert_eq!(sorted(&Collation::root(), &names), ["Anna", "Ärla", "Zara"]);
        let swedish = Collation::new("sv").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sorted(&swedish, &names), ["Anna", "Zara", "Ärla"]);
        assert_ne!(swedish.fingerprint(), Collation::root().fingerprint());
        assert!(Collation::new("not a locale!").is_err());
    }

    #[test]
    fn composed_and_decomposed_names_have_one_key() {
        let root = Collation::root();
        assert_eq!(root.sort_key("Zoë"), root.sort_key("Zoe\u{308}"));
    }

    #[test]
    fn keywords_match_ignoring_case_and_accents() {
        let root = Collation::root();
        let emile = root.keyword("EMILE").unwrap_or_else(|| unreachable!());
        let (lower, upper) = emile.exact_range();
        for name in ["emile", "Émile", "EMILE", "émilé"] {
            let key = root.sort_key(name);
            assert!(lower <= key && key < upper, "{name} is an exact match");
        }
        let (lower, upper) = emile.prefix_range();
        for name in ["Émile Zola", "emilenne", "Emile-Auguste"] {
            let key = root.sort_key(name);
            assert!(lower <= key && key < upper, "{name} starts with emile");
        }
        for name in ["emil", "Emma", "zoe", "émilf"] {
            assert!(!emile.matches(&root.sort_key(name)), "{name}");
        }
        let c = root.keyword("c++").unwrap_or_else(|| unreachable!());
        assert!(c.matches(&root.sort_key("C++ fan")));
        assert!(!c.matches(&root.sort_key("c fan")));
    }

    #[test]
    fn keywords_of_ignorable_characters_match_nothing_by_themselves() {
        let root = Collation::root();
        assert_eq!(root.keyword("\u{301}"), None);
        assert_eq!(root.keyword("\u{200D}"), None);
        assert_eq!(root.keyword("a\u{301}"), root.keyword("A"));
    }

    #[test]
    fn long_names_keep_bounded_keys() {
        let root = Collation::root();
        let key = root.sort_key(&"\u{FDFA}".repeat(100));
        assert_eq!(key.len(), MAX_SORT_KEY_CHARS);
        assert!(root.sort_key(&"李".repeat(100)).len() < MAX_SORT_KEY_CHARS);
    }

    #[test]
    fn a_keyword_may_end_inside_an_expansion() {
        // ß weighs as "ss", æ as "ae", and a Hangul syllable as its jamo: a
        // keyword matching the start of that reading matches the name.
        let root = Collation::root();
        let key = |keyword: &str| root.keyword(keyword).unwrap_or_else(|| unreachable!());
        assert!(key("s").matches(&root.sort_key("ßa")));
        assert!(!key("ss").matches(&root.sort_key("Straße")));
        assert!(key("strass").matches(&root.sort_key("Straße")));
        assert!(key("a").matches(&root.sort_key("Æsir")));
        assert!(key("가").matches(&root.sort_key("각")));
    }

    /// Letters of several scripts with their case and accent variants,
    /// decomposed forms, ignorables and punctuation (no characters that expand
    /// to several letters: see `a_keyword_may_end_inside_an_expansion`).
    fn text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "A", "á", "a\u{301}", "b", "e", "É", "z", "Z", " ", "-", "+", "1", "s", "S",
                "α", "Ά", "ж", "Ж", "ש", "م", "ح", "李", "小", "가", "😀", "\u{200D}", "\u{301}",
            ]),
            0..max,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        /// A name matches a keyword exactly when some start of it equals the
        /// keyword at primary strength (the collator's own comparison), and
        /// the exact range holds exactly the names equal to it.
        #[test]
        fn key_ranges_agree_with_primary_comparison(name in text(6), keyword in text(4)) {
            let root = Collation::root();
            let mut options = CollatorOptions::default();
            options.strength = Some(Strength::Primary);
            options.alternate_handling = Some(AlternateHandling::NonIgnorable);
            let primary = Collator::try_new(CollatorPreferences::default(), options)
                .unwrap_or_else(|e| panic!("{e}"));
            let Some(key) = root.keyword(&keyword) else {
                prop_assert_eq!(primary.compare(&keyword, ""), Ordering::Equal);
                return Ok(());
            };
            let sort_key = root.sort_key(&name);
            let (exact_lower, exact_upper) = key.exact_range();
            let exact = exact_lower <= sort_key && sort_key < exact_upper;
            prop_assert_eq!(exact, primary.compare(&name, &keyword) == Ordering::Equal);
            let starts = name
                .char_indices()
                .map(|(i, _)| i)
                .chain([name.len()])
                .any(|end| primary.compare(&name[..end], &keyword) == Ordering::Equal);
            prop_assert_eq!(key.matches(&sort_key), starts, "{:?} / {:?}", name, keyword);
        }

        /// Keys order names as the collator compares them.
        #[test]
        fn keys_order_as_the_collator_compares(a in text(6), b in text(6)) {
            let root = Collation::root();
            let mut options = CollatorOptions::default();
            options.strength = Some(Strength::Tertiary);
            options.alternate_handling = Some(AlternateHandling::NonIgnorable);
            let mut preferences = CollatorPreferences::default();
            preferences.case_first = Some(CollationCaseFirst::Lower);
            let collator = Collator::try_new(preferences, options).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(root.sort_key(&a).cmp(&root.sort_key(&b)), collator.compare(&a, &b));
        }
    }
}
