//! Reading order lines for the value analysis: an orders CSV, a CDNOW whitespace file, or the
//! database. Customer ids are mapped to dense indices `0..n` in order of first appearance.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use patron_value::summary::day_from_ymd;
use patron_value::{Day, OrderLine};

/// Customer ids, indexed by dense customer index.
pub enum Ids {
    Numeric(Vec<u64>),
    Text(Vec<String>),
}

impl Ids {
    pub fn len(&self) -> usize {
        match self {
            Ids::Numeric(v) => v.len(),
            Ids::Text(v) => v.len(),
        }
    }

    /// Writes the id of customer `i`.
    pub fn write(&self, i: usize, out: &mut Vec<u8>) {
        match self {
            Ids::Numeric(v) => out.extend_from_slice(itoa::Buffer::new().format(v[i]).as_bytes()),
            Ids::Text(v) => super::csv_field(&v[i], out),
        }
    }

    pub fn display(&self, i: usize) -> String {
        match self {
            Ids::Numeric(v) => v[i].to_string(),
            Ids::Text(v) => v[i].clone(),
        }
    }
}

/// The order lines with their customers.
pub struct Orders {
    pub ids: Ids,
    pub lines: Vec<OrderLine>,
    /// Marketing costs recorded per customer (the database's; none in order files): they
    /// replace the flat rate for their customers, as in the refresh.
    pub recorded: patron_value::summary::RecordedCosts,
}

/// Maps raw customer keys to dense indices.
#[derive(Default)]
struct Interner {
    numeric: Vec<u64>,
    numeric_index: HashMap<u64, u32, BuildFast>,
    text: Option<(Vec<String>, HashMap<String, u32>)>,
}

/// A cheap multiplicative hasher for integer keys.
#[derive(Default, Clone, Copy)]
struct BuildFast;
struct FastHasher(u64);
impl std::hash::BuildHasher for BuildFast {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}
impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (i ^ (i >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 ^= self.0 >> 32;
    }
}

impl Interner {
    fn index(&mut self, key: &[u8]) -> u32 {
        if self.text.is_none() {
            if let Some(n) = parse_u64(key) {
                let next = self.numeric.len() as u32;
                return *self.numeric_index.entry(n).or_insert_with(|| {
                    self.numeric.push(n);
                    next
                });
            }
            // A non-numeric id: switch to text ids for everyone.
            let names: Vec<String> = self.numeric.iter().map(|n| n.to_string()).collect();
            let map = names
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), i as u32))
                .collect();
            self.text = Some((names, map));
        }
        let (names, map) = self.text.as_mut().expect("text ids");
        let key = String::from_utf8_lossy(key);
        if let Some(&i) = map.get(key.as_ref()) {
            return i;
        }
        let i = names.len() as u32;
        names.push(key.to_string());
        map.insert(key.to_string(), i);
        i
    }

    fn finish(self) -> Ids {
        match self.text {
            Some((names, _)) => Ids::Text(names),
            None => Ids::Numeric(self.numeric),
        }
    }
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// `YYYY-MM-DD` or `YYYYMMDD` (a time after the date, `T...` or ` ...`, is ignored).
pub fn parse_day(s: &[u8]) -> Option<Day> {
    let s = s.trim_ascii();
    let d = |b: u8| b.is_ascii_digit().then(|| i32::from(b - b'0'));
    let num = |bs: &[u8]| bs.iter().try_fold(0i32, |acc, &b| Some(acc * 10 + d(b)?));
    let (y, m, dd) = if s.len() >= 10
        && s[4] == b'-'
        && s[7] == b'-'
        && (s.len() == 10 || matches!(s[10], b'T' | b' '))
    {
        (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?)
    } else if s.len() == 8 {
        (num(&s[0..4])?, num(&s[4..6])?, num(&s[6..8])?)
    } else {
        return None;
    };
    day_from_ymd(y, m as u32, dd as u32)
}

/// A decimal amount (`12`, `-3.5`, `1e3`), fast path for plain decimals.
fn parse_amount(s: &[u8]) -> Option<f64> {
    let s = s.trim_ascii();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut int: u64 = 0;
    let mut frac: u64 = 0;
    let mut scale: u64 = 1;
    let mut seen_dot = false;
    let mut any = false;
    if digits.len() <= 17 {
        for &b in digits {
            match b {
                b'0'..=b'9' => {
                    any = true;
                    if seen_dot {
                        frac = frac * 10 + u64::from(b - b'0');
                        scale *= 10;
                    } else {
                        int = int * 10 + u64::from(b - b'0');
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => {
                    return std::str::from_utf8(s)
                        .ok()?
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                }
            }
        }
        if any {
            let v = int as f64 + frac as f64 / scale as f64;
            return Some(if neg { -v } else { v });
        }
        return None;
    }
    std::str::from_utf8(s)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.len() > 40 {
        format!("{:?}...", &s[..40])
    } else {
        format!("{s:?}")
    }
}

/// Splits one CSV record into fields (quotes handled; the fast path has none).
fn split_csv<'a>(line: &'a [u8], fields: &mut Vec<std::borrow::Cow<'a, [u8]>>) {
    fields.clear();
    if !line.contains(&b'"') {
        fields.extend(line.split(|&b| b == b',').map(std::borrow::Cow::Borrowed));
        return;
    }
    let mut cur = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if quoted {
            if b == b'"' {
                if line.get(i + 1) == Some(&b'"') {
                    cur.push(b'"');
                    i += 1;
                } else {
                    quoted = false;
                }
            } else {
                cur.push(b);
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b',' {
            fields.push(std::borrow::Cow::Owned(std::mem::take(&mut cur)));
        } else {
            cur.push(b);
        }
        i += 1;
    }
    fields.push(std::borrow::Cow::Owned(cur));
}

fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    data.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

/// Reads an orders CSV with a header naming `customer_id`, `date`, `amount` and optionally `cost`.
pub fn read_csv(path: &Path) -> anyhow::Result<Orders> {
    let data = read_file(path).with_context(|| format!("reading {}", path.display()))?;
    parse_csv(&data, &path.display().to_string(), true)
}

/// [`read_csv`] of the file's bytes; `fast` tries the fast path first (tests compare the two).
fn parse_csv(data: &[u8], name: &str, fast: bool) -> anyhow::Result<Orders> {
    let mut it = lines(data).filter(|(_, l)| !l.trim_ascii().is_empty());
    let Some((_, header)) = it.next() else {
        bail!("{name}: the file is empty (expected a header customer_id,date,amount[,cost])");
    };
    let mut fields = Vec::new();
    split_csv(header, &mut fields);
    let names: Vec<String> = fields
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_ascii_lowercase())
        .collect();
    let find = |cands: &[&str]| names.iter().position(|n| cands.contains(&n.as_str()));
    let col_id = find(&["customer_id", "customer", "id", "customer_number"]);
    let col_date = find(&["date", "ordered_on", "order_date"]);
    let col_amount = find(&["amount", "revenue", "dollar_value", "value", "dollars"]);
    let col_cost = find(&["cost", "product_cost"]);
    let (Some(ci), Some(di), Some(ai)) = (col_id, col_date, col_amount) else {
        bail!("{name}:1: the header must name the columns customer_id, date and amount (cost optional); found {}", names.join(","));
    };
    let needed = ci.max(di).max(ai).max(col_cost.unwrap_or(0)) + 1;
    let body = &data[header.as_ptr() as usize - data.as_ptr() as usize + header.len()..];
    if fast {
        if let Some(orders) = fast_csv(body, [ci, di, ai], col_cost, needed) {
            return Ok(orders);
        }
    }
    // The general path: quoted fields, text ids, and exact error messages.
    let mut interner = Interner::default();
    let mut out = Vec::with_capacity(data.len() / 40);
    for (ln, line) in it {
        split_csv(line, &mut fields);
        if fields.len() < needed {
            bail!(
                "{name}:{ln}: expected at least {needed} columns, found {}",
                fields.len()
            );
        }
        let day = parse_day(&fields[di]).with_context(|| {
            format!(
                "{name}:{ln}: column {}: not a date (YYYY-MM-DD or YYYYMMDD): {}",
                names[di],
                show(&fields[di])
            )
        })?;
        let revenue = parse_amount(&fields[ai]).with_context(|| {
            format!(
                "{name}:{ln}: column {}: not a number: {}",
                names[ai],
                show(&fields[ai])
            )
        })?;
        let cost = match col_cost {
            Some(c) if !fields[c].trim_ascii().is_empty() => parse_amount(&fields[c])
                .with_context(|| {
                    format!(
                        "{name}:{ln}: column {}: not a number: {}",
                        names[c],
                        show(&fields[c])
                    )
                })?,
            _ => 0.0,
        };
        let key = fields[ci].trim_ascii();
        if key.is_empty() {
            bail!("{name}:{ln}: column {}: empty customer id", names[ci]);
        }
        out.push(OrderLine {
            customer: interner.index(key),
            day,
            revenue,
            cost,
        });
    }
    if out.is_empty() {
        bail!("{name}: no order lines after the header");
    }
    Ok(Orders {
        ids: interner.finish(),
        lines: out,
        recorded: Default::default(),
    })
}

/// Reads a CDNOW file: `customer_id date cds dollars` (master, optional header line) or
/// `customer_id sample_id date cds dollars` (sample), whitespace separated.
pub fn read_cdnow(path: &Path) -> anyhow::Result<Orders> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.display();
    let mut keys = Vec::with_capacity(data.len() / 30);
    let mut out = Vec::with_capacity(data.len() / 30);
    let mut width = None;
    for (ln, line) in lines(&data) {
        let toks = whitespace_tokens::<6>(line);
        let n = toks.iter().take_while(|t| t.is_some()).count();
        if n == 0 {
            continue;
        }
        let first = toks[0].unwrap_or_default();
        if width.is_none() && parse_u64(first).is_none() {
            continue; // header line
        }
        if !(n == 4 || n == 5) {
            bail!("{name}:{ln}: expected 4 columns (customer_id date cds dollars) or 5 (customer_id sample_id date cds dollars), found {n}");
        }
        if *width.get_or_insert(n) != n {
            bail!(
                "{name}:{ln}: {n} columns, but earlier lines have {}",
                width.unwrap_or(n)
            );
        }
        let (date, dollars) = if n == 4 {
            (toks[1], toks[3])
        } else {
            (toks[2], toks[4])
        };
        let (date, dollars) = (date.unwrap_or_default(), dollars.unwrap_or_default());
        let day = parse_day(date).with_context(|| {
            format!(
                "{name}:{ln}: column date: not a date (YYYYMMDD): {}",
                show(date)
            )
        })?;
        let revenue = parse_amount(dollars).with_context(|| {
            format!(
                "{name}:{ln}: column dollars: not a number: {}",
                show(dollars)
            )
        })?;
        let Some(key) = parse_u64(first) else {
            bail!(
                "{name}:{ln}: column customer_id: not a number: {}",
                show(first)
            );
        };
        keys.push(key);
        out.push(OrderLine {
            customer: 0,
            day,
            revenue,
            cost: 0.0,
        });
    }
    if out.is_empty() {
        bail!("{name}: the file is empty (no order lines)");
    }
    let ids = dense_ids(keys.iter(), &mut out);
    Ok(Orders {
        ids: Ids::Numeric(ids),
        lines: out,
        recorded: Default::default(),
    })
}

/// The first `N` whitespace-separated tokens of a line (`None` past its end).
fn whitespace_tokens<const N: usize>(line: &[u8]) -> [Option<&[u8]>; N] {
    let mut toks = [None; N];
    let mut i = 0;
    for t in &mut toks {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let from = i;
        while i < line.len() && !line[i].is_ascii_whitespace() {
            i += 1;
        }
        *t = Some(&line[from..i]);
    }
    toks
}

/// The bytes of an orders file: mapped when it is a large regular file, read otherwise.
enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

/// Reads a whole file. A large regular file is mapped instead: reading 360 MB into a fresh
/// buffer zeroes and copies every page (0.2-0.3 s of system time on the 10 M-line benchmark),
/// mapping shares the page cache.
fn read_file(path: &Path) -> std::io::Result<FileBytes> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() >= (8 << 20) {
        // SAFETY: the map is only read, and only while this command runs. Another process
        // truncating the file meanwhile would make those reads fault (SIGBUS), as it would
        // for any program mapping its input (ripgrep does the same); writing to it meanwhile
        // only changes the bytes parsed, which the parser checks like any other input.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        return Ok(FileBytes::Mapped(map));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut &file, &mut data)?;
    Ok(FileBytes::Read(data))
}

/// What the fast path does with a column of the orders CSV.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Role {
    Skip,
    Id,
    Date,
    Amount,
    Cost,
}

/// The last date text seen and its day (`len` 0: none): files come sorted by date (or by
/// customer and date), so most lines repeat the previous line's date.
#[derive(Default)]
struct DateCache {
    text: [u8; 10],
    len: usize,
    day: Day,
}

/// Splits the next field off `s`: the field and what follows its comma (`None` at the end of
/// the line).
fn next_field(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b',', s) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Digits of an unsigned integer at the start of `s`, up to a comma or the end: the value and
/// the field length. `None` for anything else (the caller parses the field the general way).
fn leading_u64(s: &[u8]) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let mut i = 0;
    while i < s.len() && i < 19 {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n * 10 + u64::from(d);
        i += 1;
    }
    (i > 0 && (i == s.len() || s[i] == b',')).then_some((n, i))
}

/// A plain decimal (`-12.50`, at most 17 characters after the sign) at the start of `s`, up
/// to a comma or the end: the value, computed as [`parse_amount`] does, and the field length.
fn leading_decimal(s: &[u8]) -> Option<(f64, usize)> {
    let (neg, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let from = i;
    // More than 17 characters stop the loops (no overflow) and then fail the checks below.
    let mut int: u64 = 0;
    while i < s.len() && i - from < 18 {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        int = int * 10 + u64::from(d);
        i += 1;
    }
    let mut frac: u64 = 0;
    let mut scale: u64 = 1;
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && i - from < 18 {
            let d = s[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            frac = frac * 10 + u64::from(d);
            scale *= 10;
            i += 1;
        }
    }
    let digits = i - from;
    let only_dot = digits == 1 && s[from] == b'.';
    if digits == 0 || only_dot || digits > 17 || (i < s.len() && s[i] != b',') {
        return None;
    }
    let v = int as f64 + frac as f64 / scale as f64;
    Some((if neg { -v } else { v }, i))
}

/// One line of the fast path: the raw numeric id and the line (customer still 0). Scans each
/// needed field once, parsing as it goes; a field out of the ordinary (spaces, exponents, ...)
/// is parsed the general way; `None` (a quote, a missing column, a bad value) sends the whole
/// file to the general path, which words the error.
fn fast_line(line: &[u8], roles: &[Role], dates: &mut DateCache) -> Option<(u64, OrderLine)> {
    let (mut key, mut day, mut revenue, mut cost) = (None, None, None, 0.0);
    let mut rest = Some(line);
    for &role in roles {
        let s = rest?;
        let field_len = match role {
            Role::Id => {
                let (n, len) = match leading_u64(s) {
                    Some(v) => v,
                    None => {
                        let (f, _) = next_field(s);
                        (parse_u64(plain(f)?.trim_ascii())?, f.len())
                    }
                };
                key = Some(n);
                len
            }
            Role::Date => {
                let len = if s.len() >= 10 && (s.len() == 10 || s[10] == b',') {
                    10
                } else {
                    next_field(s).0.len()
                };
                let f = &s[..len];
                // A fixed-size comparison for the usual `YYYY-MM-DD` (two loads, no call).
                let same = match <&[u8; 10]>::try_from(f) {
                    Ok(ten) => dates.len == 10 && *ten == dates.text,
                    Err(_) => dates.len != 0 && f == &dates.text[..dates.len],
                };
                if !same {
                    dates.day = parse_day(plain(f)?)?;
                    if len <= 10 {
                        dates.text[..len].copy_from_slice(f);
                        dates.len = len;
                    } else {
                        dates.len = 0;
                    }
                }
                day = Some(dates.day);
                len
            }
            Role::Amount | Role::Cost => {
                let (v, len) = match leading_decimal(s) {
                    Some(v) => v,
                    None => {
                        let (f, _) = next_field(s);
                        let f = plain(f)?;
                        if role == Role::Cost && f.trim_ascii().is_empty() {
                            (0.0, f.len())
                        } else {
                            (parse_amount(f)?, f.len())
                        }
                    }
                };
                if role == Role::Amount {
                    revenue = Some(v);
                } else {
                    cost = v;
                }
                len
            }
            Role::Skip => plain(next_field(s).0)?.len(),
        };
        rest = match s.get(field_len) {
            Some(b',') => Some(&s[field_len + 1..]),
            None => None,
            Some(_) => return None,
        };
    }
    Some((
        key?,
        OrderLine {
            customer: 0,
            day: day?,
            revenue: revenue?,
            cost,
        },
    ))
}

/// The field when it has no quote (quoted fields go to the general path).
fn plain(f: &[u8]) -> Option<&[u8]> {
    (!f.contains(&b'"')).then_some(f)
}

/// One parsed chunk of the fast path: raw numeric ids and the lines (customer still 0).
struct Chunk {
    keys: Vec<u64>,
    lines: Vec<OrderLine>,
}

/// The fast path of [`read_csv`]: numeric ids, no quotes, every field well formed. Parses the
/// body in two halves on two threads and maps ids to dense indices in order of first
/// appearance. `None` sends the caller to the general path (which also words any error).
fn fast_csv(
    body: &[u8],
    [ci, di, ai]: [usize; 3],
    col_cost: Option<usize>,
    needed: usize,
) -> Option<Orders> {
    // One part per core (a file under 1 MB in one).
    let parts = split_lines(
        body,
        if body.len() > (1 << 20) {
            patron_value::history::worker_threads()
        } else {
            1
        },
    );
    let mut roles = vec![Role::Skip; needed];
    roles[ci] = Role::Id;
    roles[di] = Role::Date;
    roles[ai] = Role::Amount;
    if let Some(c) = col_cost {
        roles[c] = Role::Cost;
    }
    let parse = |part: &[u8]| -> Option<Chunk> {
        let mut keys = Vec::with_capacity(part.len() / 30);
        let mut lines = Vec::with_capacity(part.len() / 30);
        let mut dates = DateCache::default();
        let mut rest = part;
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.trim_ascii().is_empty() {
                continue;
            }
            let (key, line) = fast_line(line, &roles, &mut dates)?;
            keys.push(key);
            lines.push(line);
        }
        Some(Chunk { keys, lines })
    };
    let chunks: Vec<Option<Chunk>> = std::thread::scope(|scope| {
        let parse = &parse;
        let others: Vec<_> = parts[1..]
            .iter()
            .map(|&part| scope.spawn(move || parse(part)))
            .collect();
        let mut all = vec![parse(parts[0])];
        all.extend(
            others
                .into_iter()
                .map(|h| h.join().expect("parser thread panicked")),
        );
        all
    });
    let mut chunks = chunks.into_iter().collect::<Option<Vec<Chunk>>>()?;
    let n_lines: usize = chunks.iter().map(|c| c.lines.len()).sum();
    if n_lines == 0 {
        return None;
    }
    let mut lines = std::mem::take(&mut chunks[0].lines);
    lines.reserve_exact(n_lines - lines.len());
    for c in &mut chunks[1..] {
        lines.extend_from_slice(&std::mem::take(&mut c.lines));
    }
    let ids = dense_ids(chunks.iter().flat_map(|c| c.keys.iter()), &mut lines);
    Some(Orders {
        ids: Ids::Numeric(ids),
        lines,
        recorded: Default::default(),
    })
}

/// Cuts `body` into `n` parts of about equal size, each cut right after a newline (or at the
/// end: the parts after the last line are empty); together they are `body`, in order.
fn split_lines(body: &[u8], n: usize) -> Vec<&[u8]> {
    let n = n.max(1);
    let mut parts = Vec::with_capacity(n);
    let mut from = 0;
    for k in 1..=n {
        let to = if k == n {
            body.len()
        } else {
            let at = (body.len() / n * k).max(from);
            memchr::memchr(b'\n', &body[at..]).map_or(body.len(), |p| at + p + 1)
        };
        parts.push(&body[from..to]);
        from = to;
    }
    parts
}

/// Maps raw numeric customer ids (`keys`, one per line) to dense indices in order of first
/// appearance, writing them to the lines; returns the ids by index.
fn dense_ids<'a>(keys: impl Iterator<Item = &'a u64> + Clone, lines: &mut [OrderLine]) -> Vec<u64> {
    let max_key = keys.clone().copied().max().unwrap_or(0);
    let mut ids: Vec<u64> = Vec::new();
    if max_key < (64 << 20) && max_key <= 16 * lines.len() as u64 {
        // Dense integer ids: a direct table instead of a hash map.
        let mut table = vec![u32::MAX; max_key as usize + 1];
        for (l, &k) in lines.iter_mut().zip(keys) {
            let slot = &mut table[k as usize];
            if *slot == u32::MAX {
                *slot = ids.len() as u32;
                ids.push(k);
            }
            l.customer = *slot;
        }
    } else {
        let mut index: HashMap<u64, u32, BuildFast> = HashMap::default();
        for (l, &k) in lines.iter_mut().zip(keys) {
            let next = ids.len() as u32;
            l.customer = *index.entry(k).or_insert_with(|| {
                ids.push(k);
                next
            });
        }
    }
    ids
}

/// Reads every order line of the database.
pub async fn read_database(url: &str) -> anyhow::Result<Orders> {
    let store = super::super::open(url).await?;
    let facts = store.order_facts().await.context("reading order lines")?;
    if facts.is_empty() {
        bail!("the database '{url}' has no order lines (import some with `patron import orders FILE`)");
    }
    let mut index: HashMap<i64, u32, BuildFast> = HashMap::default();
    let mut ids = Vec::new();
    let mut out = Vec::with_capacity(facts.len());
    for f in facts {
        let next = ids.len() as u32;
        let customer = *index.entry(f.customer_id).or_insert_with(|| {
            ids.push(f.customer_id as u64);
            next
        });
        use chrono::Datelike;
        let d = f.ordered_on;
        let day = day_from_ymd(d.year(), d.month(), d.day()).context("order date out of range")?;
        out.push(OrderLine {
            customer,
            day,
            revenue: f.amount_cents as f64 / 100.0,
            cost: f.cost_cents as f64 / 100.0,
        });
    }
    // The recorded marketing costs of the customers with orders (as the refresh reads them).
    let mut recorded: std::collections::BTreeMap<u32, Vec<(patron_value::Day, f64)>> =
        Default::default();
    let far = chrono::NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");
    for (customer_id, day, cents) in store
        .marketing_cost_days(far)
        .await
        .context("reading marketing costs")?
    {
        if let Some(&k) = index.get(&customer_id) {
            recorded
                .entry(k)
                .or_default()
                .push((day, cents as f64 / 100.0));
        }
    }
    Ok(Orders {
        ids: Ids::Numeric(ids),
        lines: out,
        recorded: patron_value::summary::RecordedCosts::new(recorded),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(o: &Orders) -> Vec<String> {
        (0..o.ids.len()).map(|i| o.ids.display(i)).collect()
    }

    /// The fast path reads what the general path reads, or leaves the file to it.
    fn same_both_ways(text: &str) {
        let fast = parse_csv(text.as_bytes(), "t.csv", true);
        let general = parse_csv(text.as_bytes(), "t.csv", false);
        match (fast, general) {
            (Ok(f), Ok(g)) => {
                assert_eq!(ids(&f), ids(&g), "{text:?}");
                assert_eq!(f.lines, g.lines, "{text:?}");
            }
            (Err(f), Err(g)) => assert_eq!(f.to_string(), g.to_string(), "{text:?}"),
            (f, g) => panic!("{text:?}: fast {:?} vs general {:?}", f.is_ok(), g.is_ok()),
        }
    }

    #[test]
    fn fast_and_general_paths_agree() {
        for text in [
            "customer_id,date,amount\n7,2024-01-02,10.5\n3,2024-01-02,0\n7,2024-01-09,-2.25\n",
            "customer_id,date,amount,cost\n1,2024-01-02,10,4\n2,2024-01-03,.5,\n1,2024-01-04,5.,  \n",
            "customer_id,date,amount,cost,category\n1,2024-01-02,10,4,\"a, b\"\n",
            "category,amount,customer_id,date\nx,1.25,42,20240102\r\ny,2,42,2024-01-03T10:00\r\n",
            "customer_id,date,amount\n 5 ,2024-01-02, 3e2\n5,2024-01-02,+4\n\n   \n6,2024-01-02,1\n",
            "customer_id,date,amount\n1,2024-01-02,12345678901234567\n2,2024-01-02,123456789012345678\n",
            "customer_id,date,amount\n99999999999999999999,2024-01-02,1\n",
            "customer_id,date,amount\nabc,2024-01-02,1\n7,2024-01-02,2\n",
            "customer_id,date,amount\n\"7\",2024-01-02,1\n",
            "customer_id,date,amount\n7,2024-01-02\n",
            "customer_id,date,amount\n7,,1\n",
            "customer_id,date,amount\n7,2024-02-30,1\n",
            "customer_id,date,amount\n7,2024-01-02,1.2.3\n",
            "customer_id,date,amount\n7,2024-01-02,.\n",
            "customer_id,date,amount\n7,2024-01-02,-\n",
            "customer_id,date,amount\n7,2024-01-02,\n",
            "customer_id,date,amount\n7,2024-01-02,1\n8,2024-01-02,1,extra,columns\n",
        ] {
            same_both_ways(text);
        }
    }

    #[test]
    fn the_fast_path_takes_ordinary_files_and_leaves_odd_ones() {
        let take = |body: &str, cost: Option<usize>, needed: usize| {
            fast_csv(body.as_bytes(), [0, 1, 2], cost, needed).map(|o| o.lines.len())
        };
        assert_eq!(
            take("7,2024-01-02,10.5\n3,2024-01-02,0\n", None, 3),
            Some(2)
        );
        assert_eq!(
            take("1,2024-01-02,10,4\n2,2024-01-03,.5,\n\n", Some(3), 4),
            Some(2)
        );
        assert_eq!(take(" 5 ,2024-01-02, 3e2\r\n", None, 3), Some(1));
        assert_eq!(take("1,2024-01-02,10,\"a, b\"\n", None, 3), Some(1));
        assert_eq!(take("\"7\",2024-01-02,1\n", None, 3), None);
        assert_eq!(take("abc,2024-01-02,1\n", None, 3), None);
        assert_eq!(take("7,2024-01-02\n", None, 3), None);
    }

    #[test]
    fn a_large_file_is_mapped_and_reads_as_its_bytes() {
        use std::io::Write;
        let mut text = String::from("customer_id,date,amount,cost\n");
        let mut k = 0u64;
        while text.len() < (9 << 20) {
            k += 1;
            text.push_str(&format!(
                "{},2024-{:02}-{:02},{}.{:02},{}\n",
                k % 50_000,
                k % 12 + 1,
                k % 28 + 1,
                k % 997,
                k % 100,
                k % 13
            ));
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.flush().unwrap();
        let bytes = read_file(file.path()).unwrap();
        assert!(matches!(bytes, FileBytes::Mapped(_)));
        assert_eq!(&bytes[..], text.as_bytes());
        let mapped = read_csv(file.path()).unwrap();
        let direct = parse_csv(text.as_bytes(), "t.csv", false).unwrap();
        assert_eq!(ids(&mapped), ids(&direct));
        assert_eq!(mapped.lines, direct.lines);
        assert_eq!(mapped.lines.len() as u64, k);
        // A small file is read.
        let mut small = tempfile::NamedTempFile::new().unwrap();
        small
            .write_all(b"customer_id,date,amount\n1,2024-01-02,3\n")
            .unwrap();
        small.flush().unwrap();
        assert!(matches!(
            read_file(small.path()).unwrap(),
            FileBytes::Read(_)
        ));
        assert_eq!(read_csv(small.path()).unwrap().lines.len(), 1);
    }

    #[test]
    fn parts_for_the_threads_end_after_a_newline() {
        let body = b"1,a\n22,bb\n333,ccc\n4444,dddd\n55555";
        for n in 1..=8 {
            let parts = split_lines(body, n);
            assert_eq!(parts.len(), n);
            assert_eq!(parts.concat(), body.to_vec(), "n = {n}");
            // Every cut is right after a newline, or at the end.
            let mut at = 0;
            for p in &parts {
                at += p.len();
                assert!(
                    at == body.len() || body[at - 1] == b'\n',
                    "n = {n}: {parts:?}"
                );
            }
        }
        assert_eq!(split_lines(b"", 3).concat(), b"".to_vec());
    }

    #[test]
    fn fields_are_scanned_once() {
        assert_eq!(leading_u64(b"123,x"), Some((123, 3)));
        assert_eq!(leading_u64(b"123"), Some((123, 3)));
        assert_eq!(leading_u64(b"12 3,"), None);
        assert_eq!(leading_u64(b",1"), None);
        assert_eq!(leading_decimal(b"-12.50,1"), Some((-12.5, 6)));
        assert_eq!(leading_decimal(b"7"), Some((7.0, 1)));
        assert_eq!(leading_decimal(b"1e3,"), None);
        assert_eq!(leading_decimal(b"."), None);
        assert_eq!(leading_decimal(b"123456789012345678"), None);
        assert_eq!(next_field(b"ab,cd"), (&b"ab"[..], Some(&b"cd"[..])));
        assert_eq!(next_field(b"ab"), (&b"ab"[..], None));
    }
}
