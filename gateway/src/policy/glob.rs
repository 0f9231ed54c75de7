//! IAM wildcard patterns (`*` any run of characters, `?` one character), compiled
//! once when a policy is parsed: a pattern without wildcards compares, one ending
//! in a single `*` compares a prefix, the rest run a backtracking matcher over
//! bytes. A subject may come in two parts (bucket and key), so an object ARN is
//! matched without building the string.

/// A compiled wildcard pattern.
#[derive(Debug, Clone)]
pub enum Glob {
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    Wild(Box<[u8]>),
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        if pattern == "*" {
            return Glob::Any;
        }
        let wild = |c: char| c == '*' || c == '?';
        match pattern.find(wild) {
            None => Glob::Exact(pattern.into()),
            Some(i) if i == pattern.len() - 1 && pattern.ends_with('*') => {
                Glob::Prefix(pattern[..i].into())
            }
            Some(_) => Glob::Wild(pattern.as_bytes().into()),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        self.matches_parts(text, None)
    }

    /// Matches `first` followed by `/second` when `second` is given.
    pub fn matches_parts(&self, first: &str, second: Option<&str>) -> bool {
        let subject = Parts::new(first, second);
        match self {
            Glob::Any => true,
            Glob::Exact(e) => subject.equals(e.as_bytes()),
            Glob::Prefix(p) => subject.starts_with(p.as_bytes()),
            Glob::Wild(p) => wild_match(p, &subject),
        }
    }

    /// Whether the pattern has wildcards that can match more than one text.
    pub fn is_wild(&self) -> bool {
        !matches!(self, Glob::Exact(_))
    }
}

/// `first` + `/` + `second`, indexed as one byte string.
struct Parts<'a> {
    first: &'a [u8],
    second: Option<&'a [u8]>,
    len: usize,
}

impl<'a> Parts<'a> {
    fn new(first: &'a str, second: Option<&'a str>) -> Self {
        let len = first.len() + second.map_or(0, |s| s.len() + 1);
        Parts {
            first: first.as_bytes(),
            second: second.map(str::as_bytes),
            len,
        }
    }

    fn at(&self, i: usize) -> u8 {
        if i < self.first.len() {
            self.first[i]
        } else if i == self.first.len() {
            b'/'
        } else {
            self.second.map_or(0, |s| s[i - self.first.len() - 1])
        }
    }

    fn equals(&self, other: &[u8]) -> bool {
        self.len == other.len() && self.starts_with(other)
    }

    fn starts_with(&self, prefix: &[u8]) -> bool {
        if prefix.len() > self.len {
            return false;
        }
        match self.second {
            None => self.first.starts_with(prefix),
            Some(_) => prefix.iter().enumerate().all(|(i, b)| self.at(i) == *b),
        }
    }
}

fn wild_match(p: &[u8], t: &Parts<'_>) -> bool {
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t.at(ti)) {
            if p[pi] == b'?' {
                // One character, not one byte.
                ti += utf8_len(t.at(ti));
            } else {
                ti += 1;
            }
            pi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn kinds_and_parts() {
        assert!(Glob::new("*").matches("anything"));
        assert!(Glob::new("b/k").matches_parts("b", Some("k")));
        assert!(!Glob::new("b/k").matches_parts("b", Some("kk")));
        assert!(Glob::new("b/*").matches_parts("b", Some("x/y")));
        assert!(!Glob::new("b/*").matches("b"));
        assert!(Glob::new("b*").matches("b"));
        assert!(Glob::new("b/img?.png").matches_parts("b", Some("img1.png")));
        assert!(Glob::new("b/img?.png").matches_parts("b", Some("imgé.png")));
        assert!(!Glob::new("b/img?.png").matches_parts("b", Some("img12.png")));
        assert!(Glob::new("*/pub/*.jpg").matches_parts("b", Some("pub/a/b.jpg")));
        assert!(!Glob::new("*/pub/*.jpg").matches_parts("b", Some("pub/a/b.png")));
        assert!(Glob::new("b/a*c").matches_parts("b", Some("abcbc")));
    }
}
