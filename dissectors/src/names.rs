//! Tables that name a protocol's numeric codes (QM functions and outcomes,
//! QPS request types, MQServer message types). Each table is defined once,
//! in its protocol's module, and serves both the dissector (message names)
//! and the application (display-filter literals).

/// A table of names for a numeric code.
#[derive(Debug)]
pub struct CodeNames {
    /// What one entry is called in messages: "QM function".
    pub what: &'static str,
    /// The code of each name, as dissectors write it.
    pub entries: &'static [(i64, &'static str)],
    /// Prefix that may be left out when naming an entry (`SV_` of QM outcomes).
    pub optional_prefix: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [(i64, &'static str)],
}

impl CodeNames {
    /// The code named `s` (case-insensitive, aliases and the optional
    /// prefix accepted).
    pub fn code_of(&self, s: &str) -> Option<i64> {
        let prefix = self.optional_prefix;
        let strip = |n: &'static str| -> &'static str {
            if prefix.is_empty() {
                n
            } else {
                n.strip_prefix(prefix).unwrap_or(n)
            }
        };
        let s_stripped = if prefix.is_empty() {
            s
        } else {
            match s.get(..prefix.len()) {
                Some(p) if p.eq_ignore_ascii_case(prefix) => s.get(prefix.len()..).unwrap_or(s),
                _ => s,
            }
        };
        self.entries
            .iter()
            .chain(self.aliases)
            .find(|(_, n)| n.eq_ignore_ascii_case(s) || strip(n).eq_ignore_ascii_case(s_stripped))
            .map(|(c, _)| *c)
    }

    /// The name of `code`.
    pub fn name_of(&self, code: i64) -> Option<&'static str> {
        self.entries
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, n)| *n)
    }

    /// The entry whose name is exactly `s` (as dissectors write it).
    pub fn exact(&self, s: &str) -> Option<(i64, &'static str)> {
        self.entries.iter().find(|(_, n)| *n == s).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static T: CodeNames = CodeNames {
        what: "test code",
        entries: &[(0, "SV_OK"), (1, "SV_ON_ERROR")],
        optional_prefix: "SV_",
        aliases: &[(1, "SV$ON.ERROR")],
    };

    #[test]
    fn lookups() {
        assert_eq!(T.code_of("sv_ok"), Some(0));
        assert_eq!(T.code_of("on_error"), Some(1));
        assert_eq!(T.code_of("SV$ON.ERROR"), Some(1));
        assert_eq!(T.code_of("SV_"), None);
        assert_eq!(T.name_of(1), Some("SV_ON_ERROR"));
        assert_eq!(T.name_of(2), None);
        assert_eq!(T.exact("SV_OK"), Some((0, "SV_OK")));
        assert_eq!(T.exact("sv_ok"), None);
    }
}
