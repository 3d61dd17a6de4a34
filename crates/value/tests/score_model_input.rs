//! Score model TOML inputs found by the `score_model` fuzz target (fuzz/, bench/fuzz.sh).

use patron_value::score::ScoreModel;

#[test]
fn bare_carriage_return_in_a_comment_says_what_is_wrong() {
    for src in ["# Patron de\r\0\0lue score model\n", "# a\rb\n[grades]\n"] {
        let e = ScoreModel::from_toml(src).unwrap_err();
        assert!(e.message.contains("character"), "{src:?}: {e:?}");
        assert_eq!(e.line, Some(1), "{src:?}: {e:?}");
    }
}
