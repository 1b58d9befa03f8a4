//! What the codecs' unit tests share (`listpack`, `ziplist`, `zipmap`,
//! `intset`): a seeded xorshift, fixtures written as hex or runs of one
//! byte, and decoded elements as text. Test-only.

use super::listpack::Element;

pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        crate::storage::xorshift64(&mut self.0)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => panic!("bad hex digit {b}"),
        })
        .collect();
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// Fixture pieces: literal hex, or a run of one repeated byte (so that
/// multi-kilobyte values need not be spelled out).
pub enum Seg {
    Hex(&'static str),
    Run(u8, usize),
}

pub fn expand(segs: &[Seg]) -> Vec<u8> {
    let mut out = Vec::new();
    for seg in segs {
        match seg {
            Seg::Hex(h) => out.extend(hex(h)),
            Seg::Run(b, n) => out.extend(std::iter::repeat_n(*b, *n)),
        }
    }
    out
}

pub fn texts(elements: &[Element]) -> Vec<Vec<u8>> {
    elements.iter().map(Element::to_bytes).collect()
}
