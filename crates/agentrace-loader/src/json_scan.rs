//! A byte cursor over JSON text: whitespace, strings and whole values, skipped without building
//! anything. [`crate::read`] uses it to find the line of a field for error messages, and the
//! message fast path (`extract::message`) to read the canonical message shape without a parse
//! tree.

/// Nesting past this makes [`Cursor::skip_value`] give up (serde_json stops at 128 levels for a
/// whole text).
pub(crate) const MAX_DEPTH: usize = 100;

/// A position in JSON text.
pub(crate) struct Cursor<'a> {
    /// The text.
    pub(crate) b: &'a [u8],
    /// The position.
    pub(crate) i: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `b`.
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    /// Skips JSON whitespace; returns the next byte, if any.
    pub(crate) fn ws(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    /// At an opening quote: skips the string and returns its raw content (escapes as written)
    /// and whether it has escapes. An unterminated string, or one with a raw control character
    /// (not JSON), gives `None`.
    pub(crate) fn string(&mut self) -> Option<(&'a [u8], bool)> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some((self.b.get(start..self.i - 1)?, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                }
                0..0x20 => return None,
                _ => self.i += 1,
            }
        }
    }

    /// At `{` or `[`: skips to the end of the container, reading strings by their quotes and
    /// escapes alone (found with memchr; raw control characters are not looked for) and nesting
    /// past [`MAX_DEPTH`] giving `None`. For valid JSON its extent is [`Cursor::skip_value`]'s;
    /// it serves to find text to compare with text already read in full.
    pub(crate) fn skip_container_unchecked(&mut self) -> Option<()> {
        self.skip_container(Self::string_unchecked)
    }

    /// At `"`: skips the string by its quotes and escapes alone.
    fn string_unchecked(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            self.i += memchr::memchr2(b'"', b'\\', self.b.get(self.i..)?)?;
            if *self.b.get(self.i)? == b'"' {
                self.i += 1;
                return Some(());
            }
            self.i += 2;
        }
    }

    /// At `{` or `[`: skips to the end of the container, each string skipped by `string`, and
    /// nesting past [`MAX_DEPTH`] giving `None`.
    fn skip_container(&mut self, string: impl Fn(&mut Self) -> Option<()>) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    string(self)?;
                    continue;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        self.i += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
    }

    /// At a value: skips it. A string or a container is skipped to its end (nesting past
    /// [`MAX_DEPTH`] gives `None`); anything else up to the next delimiter, without checking
    /// that it is a valid number or literal.
    pub(crate) fn skip_value(&mut self) -> Option<()> {
        match self.ws()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => self.skip_container(|c| c.string().map(drop)),
            _ => {
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_skipped_to_their_end() {
        for (text, end) in [
            (r#""a\"b" ,"#, 6),
            (r#"{"a":[1,{"b":"]"}]} x"#, 19),
            ("12.5e3,", 6),
            ("true]", 4),
        ] {
            let mut c = Cursor::new(text.as_bytes());
            assert_eq!(c.skip_value(), Some(()), "{text}");
            assert_eq!(c.i, end, "{text}");
        }
    }

    #[test]
    fn broken_and_deep_values_give_none() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        for text in ["\"open", "{\"a\":1", "\"a\nb\"", deep.as_str()] {
            assert_eq!(Cursor::new(text.as_bytes()).skip_value(), None, "{text}");
        }
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(Cursor::new(ok.as_bytes()).skip_value(), Some(()));
        // A scalar is not checked: a delimiter where a value should be is an empty extent,
        // which the caller's parser refuses.
        let mut c = Cursor::new(b"]");
        assert_eq!((c.skip_value(), c.i), (Some(()), 0));
    }

    #[test]
    fn containers_are_skipped_to_the_same_end_unchecked() {
        for text in [
            r#"{"a":[1,{"b":"]"}]} x"#,
            r#"{"q":"a\"}\\","r":["[",{"s":"\u00e9"}]},"#,
            "[[],{}]",
        ] {
            let mut checked = Cursor::new(text.as_bytes());
            let mut unchecked = Cursor::new(text.as_bytes());
            assert_eq!(checked.skip_value(), Some(()), "{text}");
            assert_eq!(unchecked.skip_container_unchecked(), Some(()), "{text}");
            assert_eq!(checked.i, unchecked.i, "{text}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        for text in [r#"{"open"#, r#"{"a":1"#, deep.as_str()] {
            let mut c = Cursor::new(text.as_bytes());
            assert_eq!(c.skip_container_unchecked(), None, "{text}");
        }
    }

    #[test]
    fn strings_report_escapes() {
        let mut c = Cursor::new(br#""plain""#);
        assert_eq!(c.string(), Some((&b"plain"[..], false)));
        let mut c = Cursor::new(br#""a\nb""#);
        assert_eq!(c.string(), Some((&br"a\nb"[..], true)));
    }
}
