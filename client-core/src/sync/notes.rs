//! Making a held notes edit again on a newer text. A notes edit is recorded as the whole text
//! the person left, but what they did is one change of the text: what they added or removed
//! between the text they started from and theirs. On the server's version that change is
//! applied where it belongs, so that whatever others wrote meanwhile stays (notes merge as
//! text, they are never overwritten).

/// Byte lengths of the longest common beginning and end of `a` and `b`, on char boundaries
/// and not overlapping.
fn common_ends(a: &str, b: &str) -> (usize, usize) {
    let prefix: usize = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    let suffix: usize = a[prefix..]
        .chars()
        .rev()
        .zip(b[prefix..].chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    (prefix, suffix)
}

/// The text the person's edit from `base` to `mine` makes of `theirs`, the current text.
///
/// The removed part is found by the text before it, else by the text after it, else as the
/// only place it occurs in `theirs`; the added part goes there. If the place cannot be found
/// (others rewrote the text around it), the added part is appended and nothing is removed:
/// keeping a few words too many is better than losing someone's.
pub(crate) fn rebase(base: &str, mine: &str, theirs: &str) -> String {
    if theirs == base {
        return mine.to_owned();
    }
    let (prefix, suffix) = common_ends(base, mine);
    let before = &base[..prefix];
    let removed = &base[prefix..base.len() - suffix];
    let after = &base[base.len() - suffix..];
    let added = &mine[prefix..mine.len() - suffix];

    let at = if base.is_empty() {
        // Nothing to place it by: a first note goes after what others wrote.
        None
    } else if theirs.starts_with(before) && theirs[before.len()..].starts_with(removed) {
        Some(before.len())
    } else if theirs.ends_with(after) && theirs[..theirs.len() - after.len()].ends_with(removed) {
        Some(theirs.len() - after.len() - removed.len())
    } else if !removed.is_empty() && theirs.matches(removed).count() == 1 {
        theirs.find(removed)
    } else {
        None
    };
    match at {
        Some(at) => {
            let end = at + removed.len();
            format!("{}{added}{}", &theirs[..at], &theirs[end..])
        }
        None if added.is_empty() => theirs.to_owned(),
        None => {
            let gap = !theirs.is_empty()
                && !theirs.ends_with(char::is_whitespace)
                && !added.starts_with(char::is_whitespace);
            format!("{theirs}{}{added}", if gap { " " } else { "" })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rebase;

    #[test]
    fn unchanged_text_takes_the_edit_as_it_is() {
        assert_eq!(rebase("pump", "pump noisy", "pump"), "pump noisy");
        assert_eq!(rebase("pump noisy", "pump", "pump noisy"), "pump");
    }

    #[test]
    fn what_others_added_stays() {
        // Both appended to the same note.
        assert_eq!(
            rebase("pump", "pump noisy", "pump replaced"),
            "pump noisy replaced"
        );
        // Someone added at the start; this edit added at the end.
        assert_eq!(
            rebase("pump", "pump noisy", "office: pump"),
            "office: pump noisy"
        );
        // A first note beside someone else's.
        assert_eq!(rebase("", "[mine]", "[theirs]"), "[theirs] [mine]");
    }

    #[test]
    fn a_removal_is_made_where_the_removed_words_are() {
        assert_eq!(
            rebase("a b c", "a c", "a b c d"),
            "a c d",
            "found by the text before it"
        );
        assert_eq!(
            rebase("a b c", "a c", "z a b c"),
            "z a c",
            "found by the text after it"
        );
        assert_eq!(
            rebase("alpha beta gamma", "alpha gamma", "1 beta 3"),
            "1 3",
            "found as the only place it occurs"
        );
    }

    #[test]
    fn an_edit_whose_place_is_gone_adds_and_removes_nothing() {
        assert_eq!(rebase("a b c", "a x c", "rewritten"), "rewritten x");
        assert_eq!(rebase("a b c", "a c", "rewritten"), "rewritten");
    }

    #[test]
    fn multibyte_text_splits_on_char_boundaries() {
        assert_eq!(rebase("Müller", "Müller ✓", "Müller ß"), "Müller ✓ ß");
        assert_eq!(rebase("日本", "日本語", "日本と"), "日本語と");
    }
}
