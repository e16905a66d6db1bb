//! Keys that let the database order and search display names with plain
//! byte-wise index scans.

/// Sort key for aA–zZ order: alphabetical, and within one letter lower case
/// before upper case (`adam, arthur, Alice, Andre, charlie, Kristen`). That is
/// ordinary lexicographic order over the alphabet a < A < b < B < …, which we
/// get byte-wise by writing each character as its lower-case form followed by
/// a case flag: `0` for lower-case or caseless, `1` for upper-case. Every
/// character contributes exactly two parts, so flags only ever compare against
/// flags.
pub fn display_name_sort_key(display_name: &str) -> String {
    let mut key = String::with_capacity(display_name.len() * 2);
    for c in display_name.chars() {
        let lower = c.to_lowercase().next().unwrap_or(c);
        key.push(lower);
        key.push(if c.is_uppercase() { '1' } else { '0' });
    }
    key
}

/// Case-insensitive search key: the display name in lower case.
pub fn display_name_search_key(display_name: &str) -> String {
    display_name.to_lowercase()
}

/// The smallest string greater than every string starting with `prefix`, for a
/// half-open range scan `[prefix, upper)`.
pub fn prefix_upper_bound(prefix: &str) -> String {
    let mut upper = String::with_capacity(prefix.len() + 4);
    upper.push_str(prefix);
    upper.push(char::MAX);
    upper
}

/// How many cased characters of a keyword [`sort_key_prefixes`] expands; each
/// doubles the number of ranges. Beyond it, matches are so few that walking
/// the ranges of the first ones and filtering the rest is cheap.
pub const MAX_EXPANDED_CASED_CHARS: usize = 4;

/// The sort-key prefixes of every display name that starts with `keyword`
/// (lower-cased), in ascending order.
///
/// A case-insensitive prefix is not one range of aA–zZ sort keys: "al" matches
/// `a0l0…`, `a0l1…`, `a1l0…` and `a1l1…`. Each cased character doubles the
/// ranges; scanning them in order walks the sort index directly, so a page
/// costs a few short index scans however common the prefix is. Only the first
/// [`MAX_EXPANDED_CASED_CHARS`] cased characters are expanded; callers still
/// filter on the full keyword.
pub fn sort_key_prefixes(keyword: &str) -> Vec<String> {
    let mut prefixes = vec![String::new()];
    let mut cased = 0;
    for c in keyword.chars() {
        let has_upper = c.to_uppercase().next().is_some_and(|u| u != c);
        if has_upper {
            if cased == MAX_EXPANDED_CASED_CHARS {
                break;
            }
            cased += 1;
            prefixes = prefixes
                .into_iter()
                .flat_map(|p| [format!("{p}{c}0"), format!("{p}{c}1")])
                .collect();
        } else {
            for p in &mut prefixes {
                p.push(c);
                p.push('0');
            }
        }
    }
    prefixes
}

/// Whether [`sort_key_prefixes`] expands every character of `keyword`, so
/// that its ranges alone select exactly the names starting with it.
pub fn keyword_fully_expanded(keyword: &str) -> bool {
    keyword
        .chars()
        .filter(|c| c.to_uppercase().next().is_some_and(|u| u != *c))
        .count()
        <= MAX_EXPANDED_CASED_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_prefixes_cover_every_case_variant_in_order() {
        assert_eq!(sort_key_prefixes("al"), ["a0l0", "a0l1", "a1l0", "a1l1"]);
        assert_eq!(sort_key_prefixes("c++"), ["c0+0+0", "c1+0+0"]);
        assert_eq!(sort_key_prefixes("abcdef").len(), 16);
        let mut names = ["ALbert", "alan", "Alan", "aLan", "bob"];
        names.sort_by_key(|n| display_name_sort_key(n));
        let prefixes = sort_key_prefixes("al");
        let matching: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| {
                prefixes
                    .iter()
                    .any(|p| display_name_sort_key(n).starts_with(p.as_str()))
            })
            .collect();
        assert_eq!(matching, ["alan", "aLan", "Alan", "ALbert"]);
    }

    #[test]
    fn orders_the_seed_example_aa_to_zz() {
        let mut names = vec!["Kristen", "Andre", "charlie", "Alice", "arthur", "adam"];
        names.sort_by_key(|n| display_name_sort_key(n));
        assert_eq!(
            names,
            ["adam", "arthur", "Alice", "Andre", "charlie", "Kristen"]
        );
    }

    #[test]
    fn lower_case_comes_first_within_a_letter_at_any_position() {
        let mut names = vec!["aB", "ab", "Ab", "ac"];
        names.sort_by_key(|n| display_name_sort_key(n));
        assert_eq!(names, ["ab", "aB", "ac", "Ab"]);
    }

    #[test]
    fn a_prefix_sorts_before_its_extensions() {
        assert!(display_name_sort_key("al") < display_name_sort_key("alice"));
    }

    #[test]
    fn prefix_bound_covers_all_extensions() {
        let upper = prefix_upper_bound("al");
        assert!("al" < upper.as_str());
        assert!("alzzzz\u{10FFFE}" < upper.as_str());
        assert!("am" > upper.as_str());
    }
}
