//! A small regular-expression engine for schema `pattern`s, with Go's `regexp` (RE2) syntax and
//! `MatchString` semantics (unanchored search), run as a Thompson NFA simulation: linear in the
//! input, whatever the pattern.
//!
//! Covered: literals and escapes, `.`, classes (ranges, negation, `\d\w\s` and their negations,
//! `[:alpha:]`-style names), `^` `$` `\A` `\z` `\b` `\B`, groups (`(…)`, `(?:…)`, `(?P<n>…)`,
//! `(?<n>…)`), a leading `(?i)` / `(?s)`, alternation, `* + ? {n} {n,} {n,m}` and their lazy
//! forms, and the Unicode categories `\p{L}`, `\p{N}`, `\p{S}`, `\p{P}` (approximated).
//! Anything else (other categories, inline flag groups, …) does not compile ([`Regex::new`]
//! gives `None`) and the caller skips the check.

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(super) struct Regex {
    prog: Vec<Inst>,
    case_insensitive: bool,
    dot_nl: bool,
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(Class),
    Assert(Assertion),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assertion {
    Start,
    End,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
    /// Unicode categories (`\p{L}`), each possibly negated (`\P{L}`).
    categories: Vec<(Category, bool)>,
}

/// The Unicode categories supported, approximated with Rust's character predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    /// `L`: letters.
    Letter,
    /// `N`: numbers.
    Number,
    /// `S`: symbols (math, currency, modifier and other symbols).
    Symbol,
    /// `P`: punctuation.
    Punctuation,
}

impl Category {
    fn parse(name: &str) -> Option<Category> {
        Some(match name {
            "L" | "Letter" => Category::Letter,
            "N" | "Number" => Category::Number,
            "S" | "Symbol" => Category::Symbol,
            "P" | "Punctuation" => Category::Punctuation,
            _ => return None,
        })
    }

    fn contains(self, c: char) -> bool {
        match self {
            Category::Letter => c.is_alphabetic() && !c.is_numeric(),
            Category::Number => c.is_numeric(),
            Category::Symbol => {
                if c.is_ascii() {
                    matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
                } else {
                    !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()
                }
            }
            Category::Punctuation => {
                c.is_ascii_punctuation()
                    && !matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Ast {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Assert(Assertion),
    Concat(Vec<Ast>),
    Alt(Vec<Ast>),
    Repeat { node: Box<Ast>, min: u32, max: Option<u32> },
}

/// More instructions than this and the pattern is refused (RE2 refuses big programs too).
const MAX_PROGRAM: usize = 50_000;
/// RE2's limit on a counted repetition.
const MAX_REPEAT: u32 = 1000;

impl Regex {
    /// Compiles `pattern`; `None` when it is not valid or uses syntax this engine lacks.
    pub(super) fn new(pattern: &str) -> Option<Regex> {
        let mut chars: Vec<char> = pattern.chars().collect();
        let mut case_insensitive = false;
        let mut dot_nl = false;
        // A leading flag group, e.g. `(?i)`.
        if chars.len() >= 4
            && chars[0] == '('
            && chars[1] == '?'
            && let Some(close) = chars.iter().position(|&c| c == ')')
        {
            let flags: String = chars[2..close].iter().collect();
            if !flags.is_empty() && flags.chars().all(|c| c == 'i' || c == 's') {
                case_insensitive = flags.contains('i');
                dot_nl = flags.contains('s');
                chars.drain(..=close);
            }
        }
        let mut parser = Parser { chars: &chars, pos: 0 };
        let ast = parser.alternation(0)?;
        if parser.pos != chars.len() {
            return None;
        }
        let mut prog = Vec::new();
        compile(&ast, &mut prog)?;
        prog.push(Inst::Match);
        Some(Regex { prog, case_insensitive, dot_nl })
    }

    /// Go's `MatchString`: whether the pattern matches anywhere in `text`.
    pub(super) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let n = self.prog.len();
        let mut current: Vec<usize> = Vec::new();
        let mut on_list = vec![usize::MAX; n];
        let mut next: Vec<usize> = Vec::new();
        for pos in 0..=chars.len() {
            // Unanchored: a new thread starts at every position.
            if self.add(&mut current, &mut on_list, 0, pos, &chars) {
                return true;
            }
            if current.is_empty() && pos < chars.len() {
                continue;
            }
            let Some(&c) = chars.get(pos) else { break };
            next.clear();
            let threads = std::mem::take(&mut current);
            for pc in threads {
                let advance = match &self.prog[pc] {
                    Inst::Char(want) => self.same_char(*want, c),
                    Inst::Any => self.dot_nl || c != '\n',
                    Inst::Class(class) => self.class_matches(class, c),
                    _ => false,
                };
                if advance {
                    next.push(pc + 1);
                }
            }
            // Follow the surviving threads' empty transitions at the next position.
            for pc in std::mem::take(&mut next) {
                if self.add(&mut current, &mut on_list, pc, pos + 1, &chars) {
                    return true;
                }
            }
        }
        false
    }

    /// Adds `pc` and everything reachable from it without consuming input; true when `Match`
    /// is reached.
    fn add(
        &self,
        list: &mut Vec<usize>,
        on_list: &mut [usize],
        pc: usize,
        pos: usize,
        chars: &[char],
    ) -> bool {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            let Some(slot) = on_list.get_mut(pc) else { continue };
            if *slot == pos {
                continue;
            }
            *slot = pos;
            match &self.prog[pc] {
                Inst::Match => return true,
                Inst::Jmp(to) => stack.push(*to),
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Assert(a) => {
                    if assertion_holds(*a, chars, pos) {
                        stack.push(pc + 1);
                    }
                }
                _ => list.push(pc),
            }
        }
        false
    }

    fn same_char(&self, want: char, c: char) -> bool {
        want == c || (self.case_insensitive && fold(want) == fold(c))
    }

    fn class_matches(&self, class: &Class, c: char) -> bool {
        let hit = |c: char| {
            class.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
                || class.categories.iter().any(|&(cat, negated)| cat.contains(c) != negated)
        };
        let mut found = hit(c);
        if !found && self.case_insensitive {
            found = c.to_lowercase().any(hit) || c.to_uppercase().any(hit);
        }
        found != class.negated
    }
}

fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn assertion_holds(a: Assertion, chars: &[char], pos: usize) -> bool {
    match a {
        Assertion::Start => pos == 0,
        Assertion::End => pos == chars.len(),
        Assertion::WordBoundary | Assertion::NotWordBoundary => {
            let before = pos > 0 && chars.get(pos - 1).is_some_and(|&c| is_word(c));
            let after = chars.get(pos).is_some_and(|&c| is_word(c));
            (before != after) == (a == Assertion::WordBoundary)
        }
    }
}

// === parsing ===

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn alternation(&mut self, depth: usize) -> Option<Ast> {
        if depth > 200 {
            return None;
        }
        let mut branches = vec![self.concat(depth)?];
        while self.peek() == Some('|') {
            self.pos += 1;
            branches.push(self.concat(depth)?);
        }
        Some(if branches.len() == 1 { branches.pop()? } else { Ast::Alt(branches) })
    }

    fn concat(&mut self, depth: usize) -> Option<Ast> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom(depth)?;
            items.push(self.quantified(atom)?);
        }
        Some(match items.len() {
            0 => Ast::Empty,
            1 => items.pop()?,
            _ => Ast::Concat(items),
        })
    }

    fn quantified(&mut self, atom: Ast) -> Option<Ast> {
        let mut node = atom;
        loop {
            let (min, max) = match self.peek() {
                Some('*') => {
                    self.pos += 1;
                    (0, None)
                }
                Some('+') => {
                    self.pos += 1;
                    (1, None)
                }
                Some('?') => {
                    self.pos += 1;
                    (0, Some(1))
                }
                Some('{') => match self.counted()? {
                    Some(bounds) => bounds,
                    // Not a repetition: a literal `{`, handled by the caller as an atom.
                    None => return Some(node),
                },
                _ => return Some(node),
            };
            // RE2 refuses `a**`; a lazy `?` after a quantifier is fine.
            if self.peek() == Some('?') {
                self.pos += 1;
            }
            if matches!(node, Ast::Repeat { .. } | Ast::Assert(_) | Ast::Empty) {
                return None;
            }
            node = Ast::Repeat { node: Box::new(node), min, max };
            if matches!(self.peek(), Some('*' | '+' | '?' | '{')) && self.counted_ahead() {
                return None;
            }
        }
    }

    /// Whether a `{` here starts a valid counted repetition, or another quantifier follows.
    fn counted_ahead(&self) -> bool {
        match self.peek() {
            Some('{') => {
                let mut probe = Parser { chars: self.chars, pos: self.pos };
                matches!(probe.counted(), Some(Some(_)))
            }
            Some(_) => true,
            None => false,
        }
    }

    /// `{n}`, `{n,}`, `{n,m}`: `Some(None)` when the `{` is a literal.
    fn counted(&mut self) -> Option<Option<(u32, Option<u32>)>> {
        let start = self.pos;
        self.pos += 1;
        let min = self.number();
        let Some(min) = min else {
            self.pos = start;
            return Some(None);
        };
        let max = if self.peek() == Some(',') {
            self.pos += 1;
            if self.peek() == Some('}') { None } else { Some(self.number()) }
        } else {
            Some(Some(min))
        };
        if self.peek() != Some('}') {
            self.pos = start;
            return Some(None);
        }
        self.pos += 1;
        let max = match max {
            None => None,
            Some(Some(m)) => Some(m),
            Some(None) => {
                self.pos = start;
                return Some(None);
            }
        };
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
            return None;
        }
        Some(Some((min, max)))
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return None;
        }
        self.chars[start..self.pos].iter().collect::<String>().parse().ok()
    }

    fn atom(&mut self, depth: usize) -> Option<Ast> {
        let c = self.peek()?;
        self.pos += 1;
        Some(match c {
            '.' => Ast::Any,
            '^' => Ast::Assert(Assertion::Start),
            '$' => Ast::Assert(Assertion::End),
            '(' => {
                if self.peek() == Some('?') {
                    self.pos += 1;
                    match self.peek() {
                        Some(':') => self.pos += 1,
                        Some('P') if self.chars.get(self.pos + 1) == Some(&'<') => {
                            self.pos += 2;
                            self.group_name()?;
                        }
                        Some('<') => {
                            self.pos += 1;
                            self.group_name()?;
                        }
                        _ => return None,
                    }
                }
                let inner = self.alternation(depth + 1)?;
                if self.peek() != Some(')') {
                    return None;
                }
                self.pos += 1;
                // Wrapped, so that `(a+)+` is not taken for the invalid `a++`.
                Ast::Concat(vec![inner])
            }
            '[' => Ast::Class(self.class()?),
            '\\' => self.escape()?,
            '*' | '+' | '?' | ')' => return None,
            '{' => Ast::Char('{'),
            c => Ast::Char(c),
        })
    }

    fn group_name(&mut self) -> Option<()> {
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '>' {
                return Some(());
            }
            if !(c.is_alphanumeric() || c == '_') {
                return None;
            }
        }
        None
    }

    fn escape(&mut self) -> Option<Ast> {
        let c = self.peek()?;
        self.pos += 1;
        Some(match c {
            'A' => Ast::Assert(Assertion::Start),
            'z' => Ast::Assert(Assertion::End),
            'b' => Ast::Assert(Assertion::WordBoundary),
            'B' => Ast::Assert(Assertion::NotWordBoundary),
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => Ast::Class(perl_class(c)),
            'p' | 'P' => {
                let category = self.category()?;
                Ast::Class(Class {
                    negated: false,
                    ranges: Vec::new(),
                    categories: vec![(category, c == 'P')],
                })
            }
            _ => Ast::Char(self.escaped_char(c)?),
        })
    }

    /// The character an escape (other than a class) stands for.
    fn escaped_char(&mut self, c: char) -> Option<char> {
        Some(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => '\x0c',
            'v' => '\x0b',
            'a' => '\x07',
            'x' => {
                let start = self.pos;
                if self.peek() == Some('{') {
                    let end = self.chars[start..].iter().position(|&c| c == '}')? + start;
                    let hex: String = self.chars[start + 1..end].iter().collect();
                    self.pos = end + 1;
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                } else {
                    let hex: String = self.chars.get(start..start + 2)?.iter().collect();
                    self.pos += 2;
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                }
            }
            c if c.is_ascii_punctuation() => c,
            _ => return None,
        })
    }

    /// The category after `\p`: `{Name}` or one letter.
    fn category(&mut self) -> Option<Category> {
        if self.peek() == Some('{') {
            let start = self.pos + 1;
            let end = self.chars[start..].iter().position(|&c| c == '}')? + start;
            let name: String = self.chars[start..end].iter().collect();
            self.pos = end + 1;
            Category::parse(&name)
        } else {
            let c = self.peek()?;
            self.pos += 1;
            Category::parse(&c.to_string())
        }
    }

    fn class(&mut self) -> Option<Class> {
        let mut class = Class { negated: false, ranges: Vec::new(), categories: Vec::new() };
        if self.peek() == Some('^') {
            self.pos += 1;
            class.negated = true;
        }
        let mut first = true;
        loop {
            let c = self.peek()?;
            if c == ']' && !first {
                self.pos += 1;
                return Some(class);
            }
            first = false;
            if c == '[' && self.chars.get(self.pos + 1) == Some(&':') {
                let rest: String = self.chars[self.pos..].iter().collect();
                let end = rest.get(2..)?.find(":]")? + 2;
                let name = &rest[2..end];
                let (negated, name) = match name.strip_prefix('^') {
                    Some(n) => (true, n),
                    None => (false, name),
                };
                let named = posix_class(name)?;
                self.pos += rest[..end + 2].chars().count();
                if negated {
                    class.ranges.extend(negate(&named.ranges));
                } else {
                    class.ranges.extend(named.ranges);
                }
                continue;
            }
            self.pos += 1;
            let lo = if c == '\\' {
                let e = self.peek()?;
                self.pos += 1;
                if e == 'p' || e == 'P' {
                    let category = self.category()?;
                    class.categories.push((category, e == 'P'));
                    continue;
                }
                if matches!(e, 'd' | 'D' | 'w' | 'W' | 's' | 'S') {
                    let perl = perl_class(e);
                    if perl.negated {
                        class.ranges.extend(negate(&perl.ranges));
                    } else {
                        class.ranges.extend(perl.ranges);
                    }
                    continue;
                }
                self.escaped_char(e)?
            } else {
                c
            };
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&c| c != ']') {
                self.pos += 1;
                let h = self.peek()?;
                self.pos += 1;
                let hi = if h == '\\' {
                    let e = self.peek()?;
                    self.pos += 1;
                    self.escaped_char(e)?
                } else {
                    h
                };
                if hi < lo {
                    return None;
                }
                class.ranges.push((lo, hi));
            } else {
                class.ranges.push((lo, lo));
            }
        }
    }
}

fn perl_class(c: char) -> Class {
    let ranges = match c.to_ascii_lowercase() {
        'd' => vec![('0', '9')],
        'w' => vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
        _ => vec![('\t', '\n'), ('\x0c', '\r'), (' ', ' ')],
    };
    Class { negated: c.is_ascii_uppercase(), ranges, categories: Vec::new() }
}

fn posix_class(name: &str) -> Option<Class> {
    let ranges = match name {
        "alnum" => vec![('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => vec![('A', 'Z'), ('a', 'z')],
        "ascii" => vec![('\0', '\x7f')],
        "blank" => vec![('\t', '\t'), (' ', ' ')],
        "cntrl" => vec![('\0', '\x1f'), ('\x7f', '\x7f')],
        "digit" => vec![('0', '9')],
        "graph" => vec![('!', '~')],
        "lower" => vec![('a', 'z')],
        "print" => vec![(' ', '~')],
        "punct" => vec![('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => vec![('\t', '\r'), (' ', ' ')],
        "upper" => vec![('A', 'Z')],
        "word" => vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
        "xdigit" => vec![('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    };
    Some(Class { negated: false, ranges, categories: Vec::new() })
}

/// The complement of `ranges` over all of Unicode.
fn negate(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut sorted = ranges.to_vec();
    sorted.sort();
    let mut out = Vec::new();
    let mut next: u32 = 0;
    for (lo, hi) in sorted {
        if (lo as u32) > next
            && let (Some(a), Some(b)) = (char::from_u32(next), char::from_u32(lo as u32 - 1))
        {
            out.push((a, b));
        }
        next = next.max(hi as u32 + 1);
    }
    if let Some(a) = char::from_u32(next) {
        out.push((a, char::MAX));
    }
    out
}

// === compiling ===

fn compile(ast: &Ast, prog: &mut Vec<Inst>) -> Option<()> {
    if prog.len() > MAX_PROGRAM {
        return None;
    }
    match ast {
        Ast::Empty => {}
        Ast::Char(c) => prog.push(Inst::Char(*c)),
        Ast::Any => prog.push(Inst::Any),
        Ast::Class(c) => prog.push(Inst::Class(c.clone())),
        Ast::Assert(a) => prog.push(Inst::Assert(*a)),
        Ast::Concat(items) => {
            for item in items {
                compile(item, prog)?;
            }
        }
        Ast::Alt(branches) => {
            let mut jumps = Vec::new();
            for (i, branch) in branches.iter().enumerate() {
                if i + 1 < branches.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(branch, prog)?;
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let after = prog.len();
                    prog[split] = Inst::Split(split + 1, after);
                } else {
                    compile(branch, prog)?;
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Ast::Repeat { node, min, max } => {
            for _ in 0..*min {
                compile(node, prog)?;
            }
            match max {
                None => {
                    // L: split body, end; body; jmp L
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(node, prog)?;
                    prog.push(Inst::Jmp(split));
                    let end = prog.len();
                    prog[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(0, 0));
                        compile(node, prog)?;
                    }
                    let end = prog.len();
                    for s in splits {
                        prog[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    (prog.len() <= MAX_PROGRAM).then_some(())
}
