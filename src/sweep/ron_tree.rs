//! A RON value tree with byte spans, for editing a scenario's text in place.
//!
//! `ron::Value` drops struct and enum-variant names (`Open(file: "data")` and `(file: "data")` read alike), so it
//! cannot address or write back a scenario. This reader keeps every node's name and its byte span in the text, and
//! the sweep edits the text by splicing (`super::path`): comments, formatting and every untouched token stay as
//! written, and the edited text goes through the scenario's own loader, with all its checks.
//!
//! The grammar read is RON's value grammar: numbers, strings (`"..."`, raw `r#"..."#`), chars, identifiers
//! (`true`, `Cold`, `Ext4`), named or anonymous structs `Name(field: v, ...)`, tuples and tuple variants
//! `Name(v, ...)`, lists `[...]`, maps `{k: v, ...}`, `//` and nested `/* */` comments.

/// A value and where it is in the text (`start..end`, bytes).
#[derive(Clone, Debug)]
pub struct Node {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

/// What a value is.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A number, as written.
    Number(String),
    /// A string literal's value (escapes resolved).
    Str(String),
    /// A char literal, as written.
    Char,
    /// A bare identifier: `true`, `None`, a unit variant such as `Cold`.
    Ident(String),
    /// `Name(field: value, ...)` or `(field: value, ...)`.
    Struct { name: Option<String>, fields: Vec<(String, Node)> },
    /// `Name(value, ...)` or `(value, ...)`.
    Tuple { name: Option<String>, items: Vec<Node> },
    /// `[value, ...]`.
    List(Vec<Node>),
    /// `{key: value, ...}`.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The variant or struct name, for `Name(...)`.
    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Struct { name, .. } | Kind::Tuple { name, .. } => name.as_deref(),
            Kind::Ident(n) => Some(n),
            _ => None,
        }
    }

    /// The value of field `name`, for a struct.
    pub fn field(&self, name: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Struct { fields, .. } => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short description for messages: "a list", "a struct `Device`", "the number 128".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Number(n) => format!("the number {n}"),
            Kind::Str(s) => format!("the string \"{s}\""),
            Kind::Char => "a char".into(),
            Kind::Ident(i) => format!("`{i}`"),
            Kind::Struct { name: Some(n), .. } => format!("a `{n}(...)`"),
            Kind::Struct { name: None, .. } => "a struct".into(),
            Kind::Tuple { name: Some(n), .. } => format!("a `{n}(...)`"),
            Kind::Tuple { name: None, .. } => "a tuple".into(),
            Kind::List(_) => "a list".into(),
            Kind::Map(_) => "a map".into(),
        }
    }
}

/// Reads the single value `text` holds (the whole scenario).
pub fn parse(text: &str) -> Result<Node, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    p.skip();
    let v = p.value()?;
    p.skip();
    if p.i != p.s.len() {
        return Err(p.err("unexpected text after the scenario"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn err(&self, msg: &str) -> String {
        let before = &self.s[..self.i.min(self.s.len())];
        let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
        let col = 1 + before.iter().rev().take_while(|&&c| c != b'\n').count();
        format!("{line}:{col}: {msg}")
    }

    /// Skips whitespace and comments.
    fn skip(&mut self) {
        loop {
            match (self.peek(), self.s.get(self.i + 1)) {
                (Some(c), _) if c.is_ascii_whitespace() => self.i += 1,
                (Some(b'/'), Some(b'/')) => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    let mut depth = 0;
                    while self.i < self.s.len() {
                        if self.s[self.i..].starts_with(b"/*") {
                            depth += 1;
                            self.i += 2;
                        } else if self.s[self.i..].starts_with(b"*/") {
                            depth -= 1;
                            self.i += 2;
                            if depth == 0 {
                                break;
                            }
                        } else {
                            self.i += 1;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected `{}`", c as char)))
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_ident) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn value(&mut self) -> Result<Node, String> {
        self.skip();
        let start = self.i;
        let kind = match self.peek() {
            None => return Err(self.err("unexpected end of text")),
            Some(b'"') => Kind::Str(self.string()?),
            Some(b'r') if matches!(self.s.get(self.i + 1), Some(b'"' | b'#')) => Kind::Str(self.raw_string()?),
            Some(b'\'') => {
                self.char_lit()?;
                Kind::Char
            }
            Some(b'[') => {
                self.i += 1;
                Kind::List(self.items(b']')?)
            }
            Some(b'{') => {
                self.i += 1;
                Kind::Map(self.map()?)
            }
            Some(b'(') => self.parens(None)?,
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => {
                while self.peek().is_some_and(|c| is_ident(c) || matches!(c, b'.' | b'-' | b'+')) {
                    self.i += 1;
                }
                Kind::Number(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
            Some(c) if is_ident_start(c) => {
                let name = self.ident();
                let save = self.i;
                self.skip();
                if self.peek() == Some(b'(') {
                    self.parens(Some(name))?
                } else {
                    self.i = save;
                    Kind::Ident(name)
                }
            }
            Some(c) => return Err(self.err(&format!("unexpected `{}`", c as char))),
        };
        Ok(Node { start, end: self.i, kind })
    }

    /// `(` at the cursor: a struct when the first item is `ident:`, else a tuple.
    fn parens(&mut self, name: Option<String>) -> Result<Kind, String> {
        self.i += 1;
        self.skip();
        let save = self.i;
        let is_struct = if self.peek().is_some_and(is_ident_start) {
            self.ident();
            self.skip();
            let colon = self.peek() == Some(b':') && self.s.get(self.i + 1) != Some(&b':');
            self.i = save;
            colon
        } else {
            false
        };
        if !is_struct {
            return Ok(Kind::Tuple { name, items: self.items(b')')? });
        }
        let mut fields = Vec::new();
        loop {
            self.skip();
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(Kind::Struct { name, fields });
            }
            if !self.peek().is_some_and(is_ident_start) {
                return Err(self.err("expected a field name"));
            }
            let key = self.ident();
            self.expect(b':')?;
            let v = self.value()?;
            fields.push((key, v));
            if !self.comma_or(b')')? {
                return Ok(Kind::Struct { name, fields });
            }
        }
    }

    /// After an item: `,` (true, more may follow) or the closing bracket (consumed, false).
    fn comma_or(&mut self, close: u8) -> Result<bool, String> {
        self.skip();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.err(&format!("expected `,` or `{}`", close as char))),
        }
    }

    fn items(&mut self, close: u8) -> Result<Vec<Node>, String> {
        let mut items = Vec::new();
        loop {
            self.skip();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(items);
            }
            items.push(self.value()?);
            if !self.comma_or(close)? {
                return Ok(items);
            }
        }
    }

    fn map(&mut self) -> Result<Vec<(Node, Node)>, String> {
        let mut entries = Vec::new();
        loop {
            self.skip();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(entries);
            }
            let k = self.value()?;
            self.expect(b':')?;
            let v = self.value()?;
            entries.push((k, v));
            if !self.comma_or(b'}')? {
                return Ok(entries);
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'0' => 0,
                        other => other,
                    });
                }
                _ => out.push(c),
            }
        }
        Err(self.err("unterminated string"))
    }

    fn raw_string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut hashes = 0;
        while self.peek() == Some(b'#') {
            hashes += 1;
            self.i += 1;
        }
        if self.peek() != Some(b'"') {
            return Err(self.err("expected `\"` in a raw string"));
        }
        self.i += 1;
        let start = self.i;
        let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
        while self.i < self.s.len() {
            if self.s[self.i..].starts_with(&close) {
                let v = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += close.len();
                return Ok(v);
            }
            self.i += 1;
        }
        Err(self.err("unterminated raw string"))
    }

    fn char_lit(&mut self) -> Result<(), String> {
        self.i += 1;
        if self.peek() == Some(b'\\') {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c != b'\'') {
            self.i += 1;
        }
        if self.peek() != Some(b'\'') {
            return Err(self.err("unterminated char"));
        }
        self.i += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_spans_and_comments() {
        let text = r#"Scenario( // c
            name: "s", machine: (memory: "1g"),
            devices: [(name: "d", read_ahead_kb: 128)],
            sysctls: {"vm.dirty_ratio": 5},
            tasks: [(name: "t", ops: [Open(file: "f"), Sleep("1s"), DropCaches(PageCache), /* x */ Sync])],
        )"#;
        let n = parse(text).unwrap();
        assert_eq!(n.name(), Some("Scenario"));
        let ra = n.field("devices").and_then(|d| match &d.kind {
            Kind::List(items) => items[0].field("read_ahead_kb").cloned(),
            _ => None,
        });
        let ra = ra.unwrap();
        assert_eq!(&text[ra.start..ra.end], "128");
        let tasks = n.field("tasks").unwrap();
        let Kind::List(ts) = &tasks.kind else { panic!() };
        let Kind::List(ops) = &ts[0].field("ops").unwrap().kind else { panic!() };
        let names: Vec<_> = ops.iter().map(|o| o.name().unwrap()).collect();
        assert_eq!(names, ["Open", "Sleep", "DropCaches", "Sync"]);
        assert!(matches!(ops[1].kind, Kind::Tuple { .. }));
    }

    #[test]
    fn refuses_broken_text_with_a_position() {
        let e = parse("Scenario(name: \"s\",\n  machine: (memory: ").unwrap_err();
        assert!(e.starts_with("2:"), "{e}");
    }
}
