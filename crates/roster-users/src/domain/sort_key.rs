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

#[cfg(test)]
mod tests {
    use super::*;

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
