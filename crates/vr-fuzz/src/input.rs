//! Reading structured values off fuzz input: every read succeeds, with zeros once the input
//! runs out, so any byte string is a valid input.

/// A cursor over fuzz input.
#[derive(Debug, Clone)]
pub(crate) struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte, or 0.
    pub(crate) fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next four bytes as little-endian, zero-padded.
    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// Little-endian `i16` samples from bytes (a trailing odd byte is ignored).
pub(crate) fn samples(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_give_zeros() {
        let mut input = Input::new(&[1, 2, 3]);
        assert_eq!(input.u8(), 1);
        assert_eq!(input.u32(), 0x0302);
        assert_eq!(input.u8(), 0);
        assert!(input.rest().is_empty());
    }

    #[test]
    fn take_and_samples() {
        let mut input = Input::new(&[1, 0, 0xff, 0xff, 9]);
        assert_eq!(samples(input.take(5)), [1, -1]);
        assert!(input.take(3).is_empty());
    }
}
