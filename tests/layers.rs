//! Layering rules for `src/`, checked on the import graph read from the source text (std only, no parser crate).
//!
//! Every `.rs` file under `src/` is a node. File A has an edge to file B when code in A (tests included) names an
//! item that B *defines*: through a private `use crate::..`/`super::..`/`self::..` line, an inline path written in
//! code, or a path whose first segment a `use` imported (`use crate::mm::folio;` then `folio::Folio::new()`).
//! Paths are resolved through `pub use` facades (globs too) to the defining file; `pub use` lines themselves are
//! not edges (unless the file's own code uses the name), nor are `mod x;` declarations; a private `use m::*` is an
//! edge to the files defining the names the file uses from `m`. Comments and string/char literals are blanked
//! before scanning.
//!
//! The rules, and why:
//! - the model (`kernel`, `mm`, `fs`, `block`) never imports the engine (`sim`), the scenarios or anything above:
//!   it models the kernel and must stay runnable and testable by itself;
//! - the probe runs the workloads on the real kernel and never uses the model (nor `sim`), so comparing the two
//!   compares independent implementations;
//! - each top-level module has a rank in [`LAYERS`] and imports only from its own rank or below, minus its
//!   forbidden list; a new top-level module must be added to the table;
//! - no import cycles between files, nor between top-level folders (the model's four folders count as one node,
//!   as they call each other the way the kernel's C files do, through methods on the machine state).
//!
//! `PCSIM_LAYERS_SRC=/some/src` points the checks at another tree. `parser_self_test` proves the checker itself.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// One line per top-level module: (name, rank, forbidden targets even though ranked at or below).
const LAYERS: &[(&str, u32, &[&str])] = &[
    ("units", 0, &[]),
    ("rng", 0, &[]),
    ("trace", 1, &[]),
    ("kernel", 2, &[]),
    ("mm", 2, &[]),
    ("fs", 2, &[]),
    ("block", 2, &[]),
    ("scenario", 3, &[]),
    ("replay", 3, &[]),
    ("sim", 4, &[]),
    ("probe", 4, &["kernel", "mm", "fs", "block", "sim"]),
    ("compare", 5, &[]),
    ("report", 6, &[]),
    ("sweep", 6, &[]),
    ("bench", 7, &[]),
    ("cli", 7, &[]),
];
/// The model's folders: one node `model` in the folder graph.
const MODEL: &[&str] = &["kernel", "mm", "fs", "block"];
/// What the model must never import.
const ABOVE_MODEL: &[&str] = &["scenario", "sim", "compare", "probe", "cli", "report", "bench", "replay", "sweep"];

fn layer(top: &str) -> Option<(u32, &'static [&'static str])> {
    LAYERS.iter().find(|(name, ..)| *name == top).map(|&(_, rank, forbidden)| (rank, forbidden))
}

// ---------------------------------------------------------------- lexing

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Blanks comments and string/char literals (newlines kept), leaving lifetimes and labels alone.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        match literal_end(&c, i) {
            Some(end) => {
                let end = end.clamp(i + 1, c.len());
                out.extend(c[i..end].iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }));
                i = end;
            }
            None => {
                out.push(c[i]);
                i += 1;
            }
        }
    }
    out
}

/// If a comment or a literal starts at `i`, the index just past its end.
fn literal_end(c: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    match (at(i), at(i + 1)) {
        ('/', '/') => Some((i..c.len()).find(|&k| c[k] == '\n').unwrap_or(c.len())),
        ('/', '*') => Some(block_comment_end(c, i)),
        ('"', _) => Some(string_end(c, i + 1)),
        ('\'', _) => char_end(c, i),
        ('b', '\'') if i == 0 || !is_ident(c[i - 1]) => char_end(c, i + 1),
        ('b' | 'c' | 'r', _) if i == 0 || !is_ident(c[i - 1]) => prefixed_string_end(c, i),
        _ => None,
    }
}

fn block_comment_end(c: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < c.len() {
        match (c[i], c.get(i + 1)) {
            ('/', Some('*')) => (depth, i) = (depth + 1, i + 2),
            ('*', Some('/')) if depth == 1 => return i + 2,
            ('*', Some('/')) => (depth, i) = (depth - 1, i + 2),
            _ => i += 1,
        }
    }
    c.len()
}

fn string_end(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    c.len()
}

/// `'x'`, `'\n'`, `'\''`, `'\u{..}'` are literals; `'a` (lifetime) and `'outer:` (label) are not.
fn char_end(c: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| c.get(k).copied().unwrap_or('\0');
    if at(i + 1) == '\\' {
        (i + 3..c.len()).find(|&k| c[k] == '\'').map(|k| k + 1)
    } else {
        (at(i + 2) == '\'' && at(i + 1) != '\'').then_some(i + 3)
    }
}

/// `b"..."`, `c"..."`, `r"..."`, `r#"..."#`, `br##"..."##`.
fn prefixed_string_end(c: &[char], i: usize) -> Option<usize> {
    let j = if matches!(c[i], 'b' | 'c') { i + 1 } else { i };
    if j > i && c.get(j) == Some(&'"') {
        return Some(string_end(c, j + 1));
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    let hashes = c[j + 1..].iter().take_while(|&&h| h == '#').count();
    if c.get(j + 1 + hashes) != Some(&'"') {
        return None;
    }
    let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    let start = j + 2 + hashes;
    Some((start..c.len()).find(|&k| c[k..].starts_with(&close)).map_or(c.len(), |k| k + close.len()))
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Id(String),
    Sep,
    P(char),
}

fn tokenize(src: &str) -> Vec<Tok> {
    let c: Vec<char> = strip(src).chars().collect();
    let (mut toks, mut i) = (Vec::new(), 0);
    while i < c.len() {
        if is_ident(c[i]) {
            let end = (i..c.len()).find(|&k| !is_ident(c[k])).unwrap_or(c.len());
            if !c[i].is_ascii_digit() {
                toks.push(Tok::Id(c[i..end].iter().collect()));
            }
            i = end;
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            toks.push(Tok::Sep);
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                toks.push(Tok::P(c[i]));
            }
            i += 1;
        }
    }
    toks
}

fn id(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Id(s)) => Some(s),
        _ => None,
    }
}

// ---------------------------------------------------------------- one file

/// A leaf of a `use` tree: `segs` as written (a `self` leaf names its module), the local name it binds.
#[derive(Debug)]
struct Use {
    ctx: Vec<String>,
    segs: Vec<String>,
    name: Option<String>,
    glob: bool,
    public: bool,
    top: bool,
}

#[derive(Debug, Default)]
struct FileInfo {
    path: String,
    module: Vec<String>,
    /// Names defined at module level, inline modules included (they count as part of their file).
    items: HashSet<String>,
    inline_mods: HashSet<String>,
    uses: Vec<Use>,
    /// (module context, segments) of every `a::b..` path written in code outside `use` lines.
    paths: Vec<(Vec<String>, Vec<String>)>,
    /// Identifiers written alone in code (to see whether a file uses what it re-exports).
    names: BTreeSet<String>,
}

const ITEM_KEYWORDS: &[&str] = &["struct", "enum", "union", "fn", "const", "static", "type", "trait", "mod"];

fn parse_file(path: String, module: Vec<String>, src: &str) -> FileInfo {
    let toks = tokenize(src);
    let mut f = FileInfo { path, module, ..Default::default() };
    let mut blocks: Vec<Option<String>> = Vec::new(); // Some(name): the body of an inline `mod name`
    let mut i = 0;
    while i < toks.len() {
        let top = blocks.iter().all(Option::is_some);
        let ctx = || f.module.iter().chain(blocks.iter().flatten()).cloned().collect::<Vec<_>>();
        let prev = |k: usize| i.checked_sub(k).and_then(|p| toks.get(p));
        match &toks[i] {
            Tok::P('{') => {
                let inline = (id(prev(2)) == Some("mod")).then(|| id(prev(1)).map(String::from)).flatten();
                f.inline_mods.extend(inline.clone());
                blocks.push(inline);
            }
            Tok::P('}') => drop(blocks.pop()),
            Tok::Id(kw) if kw == "use" => {
                let ctx = ctx();
                i = parse_use(&toks, i, ctx, top, &mut f.uses);
                continue;
            }
            Tok::Id(kw) if top && (ITEM_KEYWORDS.contains(&kw.as_str()) || kw == "macro_rules") => {
                f.items.extend(item_name(&toks, i));
            }
            Tok::Id(s) if starts_path(s, prev(1), prev(2)) => {
                let (segs, end) = read_path(&toks, i);
                match <[String; 1]>::try_from(segs) {
                    Ok([name]) => _ = f.names.insert(name),
                    Err(segs) => f.paths.push((ctx(), segs)),
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    f
}

fn item_name(toks: &[Tok], i: usize) -> Option<String> {
    let kw = id(toks.get(i))?;
    let mut k = i + 1;
    if kw == "macro_rules" && toks.get(k) == Some(&Tok::P('!')) || kw == "static" && id(toks.get(k)) == Some("mut") {
        k += 1;
    }
    let name = id(toks.get(k))?;
    (!["fn", "unsafe", "extern", "async"].contains(&name)).then(|| name.to_string())
}

/// A path starts at an identifier not preceded by `::`, `.`, `$` (but `$crate`), nor `pub(in`.
fn starts_path(s: &str, prev: Option<&Tok>, prev2: Option<&Tok>) -> bool {
    match prev {
        Some(Tok::Sep | Tok::P('.')) => false,
        Some(Tok::P('$')) => s == "crate",
        Some(Tok::Id(p)) if p == "in" => prev2 != Some(&Tok::P('(')),
        _ => true,
    }
}

fn read_path(toks: &[Tok], mut i: usize) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    while let Some(s) = id(toks.get(i)) {
        segs.push(s.to_string());
        if toks.get(i + 1) != Some(&Tok::Sep) || id(toks.get(i + 2)).is_none() {
            return (segs, i + 1);
        }
        i += 2;
    }
    (segs, i)
}

/// Parses `[vis] use tree;` starting at the `use` token; returns the index past the `;`.
fn parse_use(toks: &[Tok], i: usize, ctx: Vec<String>, top: bool, out: &mut Vec<Use>) -> usize {
    let public = match i.checked_sub(1).and_then(|p| toks.get(p)) {
        Some(Tok::Id(p)) => p == "pub",
        Some(Tok::P(')')) => {
            let open = toks[..i].iter().rposition(|t| *t == Tok::P('(')).unwrap_or(0);
            id(open.checked_sub(1).and_then(|p| toks.get(p))) == Some("pub") && id(toks.get(open + 1)) != Some("self")
        }
        _ => false,
    };
    let mut leaves = Vec::new();
    let end = use_tree(toks, i + 1, &[], &mut leaves);
    if leaves.is_empty() {
        return i + 1; // not a `use` item (`impl Trait + use<'a>`)
    }
    for (segs, name, glob) in leaves {
        out.push(Use { ctx: ctx.clone(), segs, name, glob, public, top });
    }
    toks[end..].iter().position(|t| *t == Tok::P(';')).map_or(toks.len(), |k| end + k + 1)
}

type Leaf = (Vec<String>, Option<String>, bool);

/// One `use` tree (recursing into braces); pushes its leaves; returns the index past it.
fn use_tree(toks: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<Leaf>) -> usize {
    let mut segs = prefix.to_vec();
    i += usize::from(toks.get(i) == Some(&Tok::Sep));
    while let Some(s) = id(toks.get(i)) {
        segs.push(s.to_string());
        i += 1;
        if toks.get(i) != Some(&Tok::Sep) {
            break;
        }
        i += 1;
    }
    match toks.get(i) {
        Some(Tok::P('*')) => {
            out.push((segs, None, true));
            return i + 1;
        }
        Some(Tok::P('{')) => return use_group(toks, i + 1, &segs, out),
        _ if segs.len() == prefix.len() => return i,
        _ => {}
    }
    if segs.last().is_some_and(|s| s == "self") {
        segs.pop();
    }
    let mut name = segs.last().cloned();
    if id(toks.get(i)) == Some("as") {
        name = id(toks.get(i + 1)).filter(|n| *n != "_").map(String::from);
        i += 2;
    }
    out.push((segs, name, false));
    i
}

fn use_group(toks: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<Leaf>) -> usize {
    while let Some(t) = toks.get(i) {
        match t {
            Tok::P('}') => return i + 1,
            Tok::P(';') => return i,
            Tok::P(',') => i += 1,
            _ => i = use_tree(toks, i, prefix, out).max(i + 1),
        }
    }
    i
}

fn module_of(rel: &str) -> Vec<String> {
    let mut segs: Vec<String> = rel.trim_end_matches(".rs").split('/').map(String::from).collect();
    let root = segs.len() == 1 && (segs[0] == "lib" || segs[0] == "main");
    if root || segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    segs
}

// ---------------------------------------------------------------- the graph

enum Res {
    Module(usize),
    Item(usize),
}

struct Graph {
    files: Vec<FileInfo>,
    by_module: HashMap<String, usize>,
    /// (from, to) -> the first path seen making the edge.
    edges: BTreeMap<(usize, usize), String>,
}

/// `sources`: (path relative to src/, text).
fn build(sources: &[(String, String)]) -> Graph {
    let mut sources = sources.to_vec();
    sources.sort(); // files in a stable order, and `lib.rs` before `main.rs` as the crate root
    let files: Vec<FileInfo> =
        sources.iter().map(|(rel, src)| parse_file(format!("src/{rel}"), module_of(rel), src)).collect();
    let mut by_module = HashMap::new();
    for (k, f) in files.iter().enumerate() {
        by_module.entry(f.module.join("::")).or_insert(k);
    }
    let mut g = Graph { files, by_module, edges: BTreeMap::new() };
    for f in 0..g.files.len() {
        for (to, via) in g.edges_of(f) {
            g.edges.entry((f, to)).or_insert(via);
        }
    }
    g
}

impl Graph {
    fn edges_of(&self, f: usize) -> Vec<(usize, String)> {
        let info = &self.files[f];
        let mut out = Vec::new();
        // A `pub use` line is a facade, not an edge; but code of the same file using the name is.
        let used_here = |u: &&Use| u.name.as_ref().is_some_and(|n| info.names.contains(n));
        for u in info.uses.iter().filter(|u| !u.public || used_here(u)) {
            let via = u.segs.join("::") + if u.glob { "::*" } else { "" };
            match self.canonical(f, &u.ctx, &u.segs, 0).and_then(|p| self.resolve(&p, 0)) {
                Some(Res::Item(g)) => out.push((g, via)),
                Some(Res::Module(g)) if u.glob => out.extend(self.glob_edges(f, &u.segs, g)),
                _ => {} // a module imported by name: an alias, its uses in code make the edges
            }
        }
        for (ctx, segs) in &info.paths {
            if let Some(Res::Item(g) | Res::Module(g)) =
                self.canonical(f, ctx, segs, 0).and_then(|p| self.resolve(&p, 0))
            {
                out.push((g, segs.join("::")));
            }
        }
        out.retain(|(g, _)| *g != f);
        out
    }

    /// `use m::*` in file `f`: edges to the files defining the names `f` uses from `m`, else to `m`'s file.
    fn glob_edges(&self, f: usize, glob: &[String], g: usize) -> Vec<(usize, String)> {
        let info = &self.files[f];
        let used = info.names.iter().chain(info.paths.iter().filter_map(|(_, segs)| segs.first()));
        let hits: Vec<(usize, String)> = used
            .filter(|n| !info.items.contains(*n))
            .filter_map(|n| match self.lookup(g, n, 0) {
                Some(Res::Item(h)) => Some((h, format!("{}::{n}", glob.join("::")))),
                _ => None,
            })
            .collect();
        if hits.is_empty() {
            vec![(g, glob.join("::") + "::*")]
        } else {
            hits
        }
    }

    /// The crate-absolute path of `segs` written in file `f` inside module `ctx`; None if external.
    fn canonical(&self, f: usize, ctx: &[String], segs: &[String], depth: u32) -> Option<Vec<String>> {
        let (first, rest) = segs.split_first()?;
        let info = &self.files[f];
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" => Some([ctx, rest].concat()),
            "super" => {
                let ups = segs.iter().take_while(|s| *s == "super").count();
                Some([ctx.get(..ctx.len().checked_sub(ups)?)?, &segs[ups..]].concat())
            }
            name if info.items.contains(name) => Some([ctx, segs].concat()),
            name if depth < 8 => {
                let u = info.uses.iter().find(|u| !u.glob && u.name.as_deref() == Some(name))?;
                Some([self.canonical(f, &u.ctx, &u.segs, depth + 1)?, rest.to_vec()].concat())
            }
            _ => None,
        }
    }

    /// Walks module segments (file modules, then inline ones), then looks the next segment up as an item; what
    /// follows the item (variants, associated items) is ignored. Unresolvable: the longest file-module prefix.
    fn resolve(&self, path: &[String], depth: u32) -> Option<Res> {
        let mut file = *self.by_module.get("")?;
        let mut here: Vec<String> = Vec::new();
        for seg in path {
            here.push(seg.clone());
            if let Some(&g) = self.by_module.get(&here.join("::")) {
                file = g;
                continue;
            }
            if self.files[file].inline_mods.contains(seg) {
                continue;
            }
            match self.lookup(file, seg, depth) {
                Some(Res::Module(g)) => (file, here) = (g, self.files[g].module.clone()),
                found => return Some(found.unwrap_or(Res::Item(file))),
            }
        }
        Some(Res::Module(file))
    }

    /// The file defining `name` as seen from module file `f`: its items, then its `use`s (re-exports, and the
    /// private imports children reach with `super::`), then its glob imports, recursively.
    fn lookup(&self, f: usize, name: &str, depth: u32) -> Option<Res> {
        let info = &self.files[f];
        if info.items.contains(name) {
            return Some(Res::Item(f));
        }
        if depth > 12 {
            return None;
        }
        let follow = |u: &Use| self.canonical(f, &u.ctx, &u.segs, 0).and_then(|p| self.resolve(&p, depth + 1));
        let uses = || info.uses.iter().filter(|u| u.top);
        if let Some(r) = uses().filter(|u| !u.glob && u.name.as_deref() == Some(name)).find_map(follow) {
            return Some(r);
        }
        uses().filter(|u| u.glob).find_map(|u| match follow(u) {
            Some(Res::Module(g)) if g != f => self.lookup(g, name, depth + 1),
            _ => None,
        })
    }

    fn top(&self, f: usize) -> Option<&str> {
        self.files[f].module.first().map(String::as_str)
    }

    fn edge_line(&self, a: usize, b: usize) -> String {
        let via = self.edges.get(&(a, b)).map_or("?", String::as_str);
        format!("{} -> {} (via `{via}`)", self.files[a].path, self.files[b].path)
    }

    /// Edges between top-level modules `(from, to)` for which `bad` holds, as report lines.
    fn violations(&self, bad: impl Fn(&str, &str) -> bool) -> Vec<String> {
        let tops = |&(a, b): &(usize, usize)| Some((self.top(a)?, self.top(b)?));
        let hits = self.edges.keys().filter(|e| tops(e).is_some_and(|(ta, tb)| ta != tb && bad(ta, tb)));
        hits.map(|&(a, b)| self.edge_line(a, b)).collect()
    }

    /// The graph collapsed by `node` (a file's node name; None: left out), with an example file edge per arc.
    fn net(&self, node: impl Fn(usize) -> Option<String>) -> Net {
        let all = (0..self.files.len()).filter_map(&node).collect::<BTreeSet<_>>();
        let mut net = Net { names: all.into_iter().collect(), ..Default::default() };
        net.adj.resize(net.names.len(), Vec::new());
        for &(a, b) in self.edges.keys() {
            let Some((na, nb)) = node(a).zip(node(b)) else { continue };
            let (Ok(ia), Ok(ib)) = (net.names.binary_search(&na), net.names.binary_search(&nb)) else { continue };
            if ia != ib && !net.adj[ia].contains(&ib) {
                net.adj[ia].push(ib);
                let line = self.edge_line(a, b);
                let label = if na == self.files[a].path { line } else { format!("{na} -> {nb}: {line}") };
                net.labels.insert((ia, ib), label);
            }
        }
        net
    }
}

fn file_net(g: &Graph) -> Net {
    g.net(|f| Some(g.files[f].path.clone()))
}

/// Top-level modules, the model's folders as one node `model`; the crate root left out.
fn folder_net(g: &Graph) -> Net {
    g.net(|f| g.top(f).map(|t| if MODEL.contains(&t) { "model" } else { t }.to_string()))
}

// ---------------------------------------------------------------- cycles

/// A directed graph to search for cycles: node names, adjacency lists, a report line per edge.
#[derive(Default)]
struct Net {
    names: Vec<String>,
    adj: Vec<Vec<usize>>,
    labels: HashMap<(usize, usize), String>,
}

/// Tarjan: the strongly connected components with more than one node, each sorted.
fn sccs(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        adj: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize, next: &mut usize) {
        (t.index[v], t.low[v], *next) = (Some(*next), *next, *next + 1);
        t.stack.push(v);
        t.on_stack[v] = true;
        let adj = t.adj;
        for &w in &adj[v] {
            match t.index[w] {
                None => {
                    visit(t, w, next);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on_stack[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if t.index[v] == Some(t.low[v]) {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on_stack[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            t.out.push(comp);
        }
    }
    let n = adj.len();
    let mut t = T { adj, index: vec![None; n], low: vec![0; n], on_stack: vec![false; n], stack: vec![], out: vec![] };
    let mut next = 0;
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v, &mut next);
        }
    }
    let mut out: Vec<Vec<usize>> = t.out.into_iter().filter(|c| c.len() > 1).collect();
    out.iter_mut().for_each(|c| c.sort());
    out.sort();
    out
}

/// A shortest cycle from the component's first node back to itself (breadth-first, inside the component).
fn cycle_through(adj: &[Vec<usize>], comp: &[usize]) -> Vec<usize> {
    let Some(&start) = comp.first() else { return Vec::new() };
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in adj[v].iter().filter(|w| comp.contains(w)) {
            if w == start {
                let mut path = vec![v];
                while let Some(&p) = path.last().and_then(|x| parent.get(x)) {
                    path.push(p);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

fn cycle_report(net: &Net) -> Vec<String> {
    let report = |comp: Vec<usize>| {
        let members: Vec<&str> = comp.iter().map(|&v| net.names[v].as_str()).collect();
        let path = cycle_through(&net.adj, &comp);
        let steps: Vec<String> = path
            .windows(2)
            .map(|w| format!("    {}", net.labels.get(&(w[0], w[1])).map_or("?", String::as_str)))
            .collect();
        format!("cycle between {{{}}}, e.g.:\n{}", members.join(", "), steps.join("\n"))
    };
    sccs(&net.adj).into_iter().map(report).collect()
}

// ---------------------------------------------------------------- the checks

fn src_root() -> PathBuf {
    std::env::var("PCSIM_LAYERS_SRC")
        .map_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), PathBuf::from)
}

/// (path relative to `root` with `/` separators, text) of every `.rs` file, sorted.
fn load_tree(root: &Path) -> Vec<(String, String)> {
    let (mut out, mut dirs) = (Vec::new(), vec![root.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                if let (Ok(text), Ok(rel)) = (std::fs::read_to_string(&path), path.strip_prefix(root)) {
                    out.push((rel.to_string_lossy().replace('\\', "/"), text));
                }
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no .rs files under {} (PCSIM_LAYERS_SRC?)", root.display());
    out
}

fn graph() -> Graph {
    build(&load_tree(&src_root()))
}

fn assert_none(rule: &str, lines: &[String]) {
    assert!(lines.is_empty(), "{rule}: {} offending edge(s):\n  {}\n", lines.len(), lines.join("\n  "));
}

#[test]
fn model_never_reaches_up() {
    let lines = graph().violations(|a, b| MODEL.contains(&a) && ABOVE_MODEL.contains(&b));
    assert_none("the model (kernel, mm, fs, block) imports the engine or something above it", &lines);
}

#[test]
fn probe_never_uses_the_model() {
    let forbidden = layer("probe").map_or(&[][..], |(_, f)| f);
    let lines = graph().violations(|a, b| a == "probe" && forbidden.contains(&b));
    assert_none("the probe uses the model or the engine", &lines);
}

#[test]
fn layers_import_only_downward() {
    let g = graph();
    let tops: BTreeSet<&str> = (0..g.files.len()).filter_map(|f| g.top(f)).collect();
    let missing: Vec<&str> = tops.into_iter().filter(|t| layer(t).is_none()).collect();
    let lines = g.violations(|a, b| match (layer(a), layer(b)) {
        (Some((ra, forbidden)), Some((rb, _))) => rb > ra || forbidden.contains(&b),
        _ => false,
    });
    assert!(
        missing.is_empty(),
        "top-level module(s) {missing:?} are not in LAYERS: add a line for each (rank, forbidden targets) at the top of tests/layers.rs"
    );
    assert_none("imports that go up a layer or reach a forbidden module (see LAYERS)", &lines);
}

#[test]
fn no_import_cycles_between_files() {
    let cycles = cycle_report(&file_net(&graph()));
    assert!(cycles.is_empty(), "{} import cycle(s) between files:\n{}\n", cycles.len(), cycles.join("\n"));
}

#[test]
fn no_import_cycles_between_folders() {
    let cycles = cycle_report(&folder_net(&graph()));
    assert!(cycles.is_empty(), "{} import cycle(s) between top-level folders:\n{}\n", cycles.len(), cycles.join("\n"));
}

/// A tiny tree with the cycles a/inner -> c -> b -> a/inner (through `super::super`, a test module, a renamed
/// re-export behind a facade) and d <-> e, a glob import through a facade (f), decoys in comments and strings.
const SYNTHETIC: [(&str, &str); 8] = [
    ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\npub mod e;\npub mod f;"),
    (
        "a/mod.rs",
        r"pub mod inner;
pub use inner::*;
pub(crate) use inner::Thing as Renamed;
pub fn make() -> Option<Renamed<'static>> { None }",
    ),
    (
        "a/inner.rs",
        r"pub struct Thing<'a>(&'a str);
pub fn helper() -> char { '\'' }
pub enum E { V }
fn up() { let _ = super::super::c::C; }",
    ),
    (
        "b.rs",
        r##"use crate::a::{self, Renamed as R2};
use crate::a::E::V; // crate::d::X
/* crate::e::Y */ pub struct G;
fn f(_: R2<'static>) { a::helper(); let _ = ("crate::d::X", r#"crate::e::Y "q""#, '"'); }"##,
    ),
    (
        "c.rs",
        "pub const C: u8 = 0;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::b::G;
    fn t() { self::h(); let _ = C; }
    fn h() {}
}",
    ),
    ("d.rs", "use crate::e::Y;\npub struct X;\nfn f(_: Y) {}"),
    ("e.rs", "pub struct Y;\nfn g() { let _ = crate::d::X; }"),
    ("f.rs", "use crate::a::*;\nfn k() -> Option<Thing<'static>> { helper(); None }"),
];

#[test]
fn parser_self_test() {
    let src = "a // crate::x\n/* /* crate::y */ */ b \"crate::z \\\" q\" r#\"crate::w \"q\" \"# fn f<'a>(x: &'a str) -> char { '\\'' } '\"' b'x' c";
    let idents: Vec<String> = tokenize(src).into_iter().filter_map(|t| id(Some(&t)).map(String::from)).collect();
    assert_eq!(idents, ["a", "b", "fn", "f", "a", "x", "a", "str", "char", "c"]);

    let f = parse_file("x.rs".into(), vec!["x".into()], "pub(crate) use crate::a::{b::{C, d::*}, self as e, f as _};");
    let leaves: Vec<(String, Option<&str>, bool, bool)> =
        f.uses.iter().map(|u| (u.segs.join("::"), u.name.as_deref(), u.glob, u.public)).collect();
    let expect = [
        ("crate::a::b::C", Some("C"), false),
        ("crate::a::b::d", None, true),
        ("crate::a", Some("e"), false),
        ("crate::a::f", None, false),
    ];
    assert_eq!(leaves, expect.map(|(p, n, g)| (p.to_string(), n, g, true)));

    let g = build(&SYNTHETIC.map(|(p, s)| (p.to_string(), s.to_string())));
    let edges: Vec<String> = g.edges.keys().map(|&(a, b)| g.edge_line(a, b)).collect();
    let expect = [
        "src/a/inner.rs -> src/c.rs (via `super::super::c::C`)",
        "src/a/mod.rs -> src/a/inner.rs (via `inner::Thing`)",
        "src/b.rs -> src/a/inner.rs (via `crate::a::Renamed`)",
        "src/c.rs -> src/b.rs (via `crate::b::G`)",
        "src/d.rs -> src/e.rs (via `crate::e::Y`)",
        "src/e.rs -> src/d.rs (via `crate::d::X`)",
        "src/f.rs -> src/a/inner.rs (via `crate::a::Thing`)",
    ];
    assert_eq!(edges, expect);
    let cycles = cycle_report(&file_net(&g));
    assert_eq!(cycles.len(), 2, "{cycles:#?}");
    assert!(cycles[0].starts_with("cycle between {src/a/inner.rs, src/b.rs, src/c.rs}"), "{}", cycles[0]);
    assert!(
        cycles[1].contains("    src/d.rs -> src/e.rs (via `crate::e::Y`)\n    src/e.rs -> src/d.rs"),
        "{}",
        cycles[1]
    );
    assert_eq!(g.violations(|a, b| a == "b" && b == "a"), ["src/b.rs -> src/a/inner.rs (via `crate::a::Renamed`)"]);

    // The model's folders are one node of the folder graph; the model reaching up is caught.
    let model = [
        ("lib.rs", "pub mod fs;\npub mod mm;\npub mod sim;"),
        ("fs.rs", "pub mod y;"), // the `fs.rs` + `fs/` layout
        ("mm/mod.rs", "pub mod x;"),
        ("mm/x.rs", "use crate::fs::y::Y;\npub struct X;"),
        ("fs/y.rs", "pub struct Y;\nfn f() { let _ = (crate::mm::x::X, crate::sim::Z); }"),
        ("sim.rs", "pub struct Z;"),
    ];
    let m = build(&model.map(|(p, s)| (p.to_string(), s.to_string())));
    assert_eq!((cycle_report(&file_net(&m)).len(), cycle_report(&folder_net(&m)).len()), (1, 0));
    let up = m.violations(|a, b| MODEL.contains(&a) && ABOVE_MODEL.contains(&b));
    assert_eq!(up, ["src/fs/y.rs -> src/sim.rs (via `crate::sim::Z`)"]);
}
