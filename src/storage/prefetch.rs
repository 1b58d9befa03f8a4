//! Cache hints for hashbrown tables: where a lookup of a hash will read, so
//! that a pipeline's lookups can start their misses together instead of one
//! after another (the shard's table for keys, a big hash's or set's table for
//! fields and members). Hints only: nothing here reads an element or changes
//! a table, and a wrong address costs a wasted prefetch, never a fault.

use hashbrown::HashTable;

/// Hint the CPU to load the cache line holding `addr`; reads nothing.
#[inline]
pub fn prefetch_addr(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only hints the cache: it never faults and reads
    // nothing, whatever the address; SSE is part of every x86_64 target.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// The address of `t`'s control bytes, learnt from an occupied slot among
/// the first 64: hashbrown keeps slot `i` `(i + 1)` slots below the control
/// bytes. None when those buckets are all empty (no hint then).
///
/// Were hashbrown's layout to change, the hints would only go to the wrong
/// lines (`prefetch_addresses_match_hashbrowns_layout` in the shard's tests
/// checks the assumption).
pub fn ctrl_addr<T>(t: &HashTable<T>) -> Option<usize> {
    (0..t.num_buckets().min(64)).find_map(|i| {
        let slot = t.get_bucket(i)? as *const T as usize;
        Some(slot.wrapping_add((i + 1) * std::mem::size_of::<T>()))
    })
}

/// First stage for a lookup of hash `h` in `t` whose control bytes are at
/// `ctrl`: the control group its probe reads first and the slot at the
/// probe's start, loaded without reading either.
#[inline]
pub fn prefetch_group<T>(t: &HashTable<T>, ctrl: usize, h: u64) {
    let buckets = t.num_buckets();
    if buckets == 0 {
        return;
    }
    let pos = h as usize & (buckets - 1);
    prefetch_addr(ctrl.wrapping_add(pos));
    prefetch_addr(ctrl.wrapping_sub((pos + 1) * std::mem::size_of::<T>()));
}

/// A later stage: probe `t` for hash `h` with a test that hands each
/// candidate (a slot whose tag matches) to `hint` and fails, so what the
/// candidates point at starts loading while the probe reads only control
/// bytes, and whatever `hint` reads.
#[inline]
pub fn prefetch_candidates<T>(t: &HashTable<T>, h: u64, mut hint: impl FnMut(&T)) {
    let _ = t.find(h, |e| {
        hint(e);
        false
    });
}

/// The stages of a member's prefetch in a collection's table
/// (`object::table::Table::prefetch`), run for every member of a pipeline
/// before the next stage of any: each reads only what the one before started
/// loading.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    /// The control group and the slot a probe reads first.
    Group,
    /// The slots whose tags match (reads the control bytes).
    Slots,
    /// The bytes those slots' keys keep on the heap (reads the slots).
    Keys,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The address learnt from one slot agrees with every occupied slot's:
    /// the layout the hints rely on (slot `i` sits `i + 1` slots below the
    /// control bytes) holds for this hashbrown, whatever the element size.
    fn layout_holds<T>(t: &HashTable<T>) {
        let ctrl = ctrl_addr(t).expect("an occupied slot among the first 64");
        let mut seen = 0;
        for i in 0..t.num_buckets() {
            if let Some(e) = t.get_bucket(i) {
                let addr = e as *const T as usize + (i + 1) * std::mem::size_of::<T>();
                assert_eq!(addr, ctrl, "slot {i}");
                seen += 1;
            }
        }
        assert_eq!(seen, t.len());
    }

    #[test]
    fn control_bytes_sit_above_the_slots() {
        let mut small: HashTable<u64> = HashTable::new();
        let mut wide: HashTable<[u64; 4]> = HashTable::new();
        for i in 0..5000u64 {
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            small.insert_unique(h, h, |&x| x);
            wide.insert_unique(h, [h, i, 0, 0], |x| x[0]);
        }
        layout_holds(&small);
        layout_holds(&wide);
        // The hints read nothing and change nothing, present key or not.
        let ctrl = ctrl_addr(&small).expect("occupied");
        for h in [0u64, 1, 0x9E37_79B9_7F4A_7C15, u64::MAX] {
            prefetch_group(&small, ctrl, h);
            prefetch_candidates(&small, h, |x| prefetch_addr(x as *const u64 as usize));
        }
        assert_eq!(small.len(), 5000);
        assert_eq!(ctrl_addr(&HashTable::<u64>::new()), None);
    }
}
