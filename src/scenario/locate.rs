//! Source positions for semantic errors.
//!
//! ron reports positions for syntax and type errors, but once a scenario is deserialised the positions are gone, so
//! a check such as "`Open(file: \"nosuch\")` names no file" would have nowhere to point. This module re-reads the
//! (already syntactically valid) RON text into a light tree of positions that mirrors the document's shape: named
//! fields, list items, map entries. The semantic checks in [`super::validate`] walk the deserialised scenario and
//! this tree in step (`root.field("tasks").item(2).field("ops").item(0).field("file")`) and point at the exact
//! token. Positions are 1-based lines and columns counted in characters, as ron counts them.
//!
//! The reader is lenient by design: it runs only on text ron accepted, and on anything surprising it stops and keeps
//! what it has, so a lookup falls back to the nearest enclosing position rather than failing.

/// A 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

/// One RON value: where it starts, and its parts.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub pos: Pos,
    /// The identifier of `Name(...)` or a bare identifier such as `Cold`.
    pub name: Option<String>,
    /// A string literal's contents.
    pub string: Option<String>,
    /// `name: value` fields of a struct or struct-like enum variant, with the position of the field name.
    pub fields: Vec<(String, Pos, Node)>,
    /// Items of a list, or of a tuple such as `Sleep("5s")`.
    pub items: Vec<Node>,
    /// `key: value` entries of a map `{ ... }`.
    pub entries: Vec<(Node, Node)>,
}

impl Node {
    /// The value of field `name`.
    pub fn field(&self, name: &str) -> Option<&Node> {
        self.fields.iter().find(|(n, _, _)| n == name).map(|(_, _, v)| v)
    }
    /// List or tuple item `i`.
    pub fn item(&self, i: usize) -> Option<&Node> {
        self.items.get(i)
    }
    /// The key node of map entry `key` (a string key).
    pub fn entry_key(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _)| k.string.as_deref() == Some(key)).map(|(k, _)| k)
    }
}

/// Chains lookups that may fail: `Loc::new(root).field("tasks").item(0).pos()` is the deepest position found.
#[derive(Clone, Copy)]
pub(crate) struct Loc<'a> {
    node: &'a Node,
    missing: bool,
}

impl<'a> Loc<'a> {
    pub fn new(node: &'a Node) -> Loc<'a> {
        Loc { node, missing: false }
    }
    #[cfg(test)]
    pub fn node(&self) -> &'a Node {
        self.node
    }
    pub fn field(self, name: &str) -> Loc<'a> {
        self.step(|n| n.field(name))
    }
    pub fn item(self, i: usize) -> Loc<'a> {
        self.step(|n| n.item(i))
    }
    pub fn entry_key(self, key: &str) -> Loc<'a> {
        self.step(|n| n.entry_key(key))
    }
    fn step(self, f: impl FnOnce(&'a Node) -> Option<&'a Node>) -> Loc<'a> {
        if self.missing {
            return self;
        }
        match f(self.node) {
            Some(node) => Loc { node, missing: false },
            None => Loc { node: self.node, missing: true },
        }
    }
    pub fn pos(&self) -> Pos {
        self.node.pos
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open(char),
    Close(char),
    Comma,
    Colon,
    Ident(String),
    Str(String),
    Atom,
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
}

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    fn skip_trivia(&mut self) {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let mut depth = 0usize;
                    while let Some(c) = self.peek(0) {
                        if c == '/' && self.peek(1) == Some('*') {
                            depth += 1;
                            self.bump();
                        } else if c == '*' && self.peek(1) == Some('/') {
                            depth -= 1;
                            self.bump();
                            if depth == 0 {
                                self.bump();
                                break;
                            }
                        }
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }
    fn string(&mut self, hashes: usize, raw: bool) -> String {
        // Positioned on the opening quote (after any r and #s).
        self.bump();
        let mut out = String::new();
        while let Some(c) = self.bump() {
            if c == '"' && (0..hashes).all(|k| self.peek(k) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                break;
            }
            if c == '\\' && !raw {
                if let Some(e) = self.bump() {
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
                continue;
            }
            out.push(c);
        }
        out
    }
    fn next(&mut self) -> Option<(Tok, Pos)> {
        self.skip_trivia();
        let pos = Pos { line: self.line, col: self.col };
        let c = self.peek(0)?;
        let tok = match c {
            '(' | '[' | '{' => {
                self.bump();
                Tok::Open(c)
            }
            ')' | ']' | '}' => {
                self.bump();
                Tok::Close(c)
            }
            ',' => {
                self.bump();
                Tok::Comma
            }
            ':' => {
                self.bump();
                Tok::Colon
            }
            '"' => Tok::Str(self.string(0, false)),
            'r' | 'b' if matches!(self.peek(1), Some('"') | Some('#')) => {
                self.bump();
                let mut hashes = 0;
                while self.peek(0) == Some('#') {
                    self.bump();
                    hashes += 1;
                }
                Tok::Str(self.string(hashes, c == 'r'))
            }
            '#' => {
                // `#![enable(...)]`: skip to the closing bracket.
                let mut depth = 0;
                while let Some(c) = self.bump() {
                    match c {
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                return self.next();
            }
            '\'' => {
                self.bump();
                while let Some(c) = self.bump() {
                    if c == '\\' {
                        self.bump();
                    } else if c == '\'' {
                        break;
                    }
                }
                Tok::Atom
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::new();
                while let Some(c) = self.peek(0).filter(|c| c.is_alphanumeric() || *c == '_') {
                    s.push(c);
                    self.bump();
                }
                Tok::Ident(s)
            }
            _ => {
                // Numbers (with sign, exponent, underscores) and anything else: one atom.
                self.bump();
                while self.peek(0).is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')) {
                    self.bump();
                }
                Tok::Atom
            }
        };
        Some((tok, pos))
    }
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
}

impl Parser {
    fn peek(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.i + k).map(|(t, _)| t)
    }
    fn value(&mut self, depth: usize) -> Option<Node> {
        let (tok, pos) = self.toks.get(self.i).cloned()?;
        self.i += 1;
        let mut node = Node { pos, ..Node::default() };
        if depth > 256 {
            return Some(node);
        }
        match tok {
            Tok::Ident(name) => {
                node.name = Some(name);
                if self.peek(0) == Some(&Tok::Open('(')) {
                    self.i += 1;
                    self.paren_body(&mut node, depth);
                }
            }
            Tok::Open('(') => self.paren_body(&mut node, depth),
            Tok::Open('[') => {
                while !matches!(self.peek(0), Some(Tok::Close(_)) | None) {
                    node.items.push(self.value(depth + 1)?);
                    if self.peek(0) == Some(&Tok::Comma) {
                        self.i += 1;
                    }
                }
                self.i += 1;
            }
            Tok::Open(_) => {
                while !matches!(self.peek(0), Some(Tok::Close(_)) | None) {
                    let key = self.value(depth + 1)?;
                    if self.peek(0) == Some(&Tok::Colon) {
                        self.i += 1;
                    }
                    let val = self.value(depth + 1)?;
                    node.entries.push((key, val));
                    if self.peek(0) == Some(&Tok::Comma) {
                        self.i += 1;
                    }
                }
                self.i += 1;
            }
            Tok::Str(s) => node.string = Some(s),
            Tok::Atom | Tok::Close(_) | Tok::Comma | Tok::Colon => {}
        }
        Some(node)
    }
    /// After `(`: either `name: value, ...` fields or tuple items, up to the matching `)`.
    fn paren_body(&mut self, node: &mut Node, depth: usize) {
        while !matches!(self.peek(0), Some(Tok::Close(_)) | None) {
            let is_field = matches!(self.peek(0), Some(Tok::Ident(_))) && self.peek(1) == Some(&Tok::Colon);
            if is_field {
                let (Tok::Ident(name), kpos) = self.toks[self.i].clone() else { return };
                self.i += 2;
                match self.value(depth + 1) {
                    Some(v) => node.fields.push((name, kpos, v)),
                    None => return,
                }
            } else {
                match self.value(depth + 1) {
                    Some(v) => node.items.push(v),
                    None => return,
                }
            }
            if self.peek(0) == Some(&Tok::Comma) {
                self.i += 1;
            }
        }
        self.i += 1;
    }
}

/// The start of the token that ends just before `end` (exclusive), if any. ron's spans for errors raised while
/// deserialising a value (a bad size, a negative number) start one character into the token and end just after
/// it; this recovers the token's first character (the opening quote or the sign) so messages point there.
pub(crate) fn token_ending_at(text: &str, end: Pos) -> Option<Pos> {
    let mut lx = Lexer { chars: text.chars().collect(), i: 0, line: 1, col: 1 };
    while let Some((_, start)) = lx.next() {
        let here = Pos { line: lx.line, col: lx.col };
        if here == end {
            return Some(start);
        }
        if here > end {
            return None;
        }
    }
    None
}

/// Reads RON text into a position tree (the top-level value).
pub(crate) fn locate(text: &str) -> Node {
    let mut lx = Lexer { chars: text.chars().collect(), i: 0, line: 1, col: 1 };
    let mut toks = Vec::new();
    while let Some(t) = lx.next() {
        toks.push(t);
    }
    let mut p = Parser { toks, i: 0 };
    p.value(0).unwrap_or(Node { pos: Pos { line: 1, col: 1 }, ..Node::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_fields_items_and_entries() {
        let text = "// c\nScenario(\n  a: [X(f: \"one\"), Y(\"5s\") /* c */],\n  m: { \"k\": 1 },\n  s: r#\"raw\"#,\n)";
        let root = locate(text);
        assert_eq!(root.name.as_deref(), Some("Scenario"));
        assert_eq!(root.pos, Pos { line: 2, col: 1 });
        let f = Loc::new(&root).field("a").item(0).field("f").node();
        assert_eq!(f.string.as_deref(), Some("one"));
        assert_eq!(f.pos, Pos { line: 3, col: 12 });
        let y = Loc::new(&root).field("a").item(1).node();
        assert_eq!(y.name.as_deref(), Some("Y"));
        assert_eq!(y.items[0].string.as_deref(), Some("5s"));
        assert_eq!(Loc::new(&root).field("m").entry_key("k").pos(), Pos { line: 4, col: 8 });
        assert_eq!(root.field("s").unwrap().string.as_deref(), Some("raw"));
        assert_eq!(token_ending_at("(a: \"-4k\")", Pos { line: 1, col: 10 }), Some(Pos { line: 1, col: 5 }));
        assert_eq!(token_ending_at("(a: -4096)", Pos { line: 1, col: 10 }), Some(Pos { line: 1, col: 5 }));
        // A missing step keeps the deepest position found.
        assert_eq!(Loc::new(&root).field("a").item(7).field("f").pos(), Pos { line: 3, col: 6 });
    }
}
