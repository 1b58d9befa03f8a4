//! The collection side of [`Entry`]: a small hash or set stored inside the
//! entry (`INLINE_OBJ`: a tag byte and its compact encoding), a large one as
//! a boxed [`Object`] beside it (`BOXED_OBJ`), and a value of either kind
//! taken out or put in as a [`Stored`]. A child of `entry` because it works
//! on the entry's private layout; it never decides an encoding (that is
//! `storage::object`'s).

use super::*;

impl Entry {
    /// An entry holding a collection: inside the entry when it has a compact
    /// form, else boxed beside it.
    pub fn with_object(key: &[u8], obj: Object, deadline: Option<u64>) -> Entry {
        assert!(key.len() <= MAX_KEY_LEN, "key longer than MAX_KEY_LEN");
        if let Some((tag, bytes)) = obj.inline() {
            return Entry::assemble_inline(INLINE_OBJ, 0, deadline, key, &[&[tag], bytes], 0);
        }
        let addr = Box::into_raw(Box::new(obj)) as usize as u64;
        let mut e = Entry::assemble_inline(INLINE_OBJ, 0, deadline, key, &[&addr.to_le_bytes()], 0);
        // Only now are the 8 bytes a box's address (see `assemble_shared`).
        let f = (e.flags() & !INLINE_OBJ) | BOXED_OBJ;
        e.set_flags(f);
        e
    }

    /// The address of the boxed collection, when the value is [`BOXED_OBJ`].
    #[inline]
    fn boxed_ptr(&self) -> Option<*mut Object> {
        if self.flags() & BOXED_OBJ == 0 {
            return None;
        }
        let at = self.parts().value();
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.bytes()[at..at + 8]);
        Some(u64::from_le_bytes(a) as usize as *mut Object)
    }

    /// The boxed collection, when the value is [`BOXED_OBJ`].
    #[inline]
    pub(super) fn boxed(&self) -> Option<&Object> {
        let ptr = self.boxed_ptr()?;
        // SAFETY: a BOXED_OBJ entry's value is the address of a live
        // `Box<Object>` made by `with_object` and owned by this entry alone;
        // it is freed only by `take_boxed`, which clears the flag first. The
        // borrow lives no longer than `&self`.
        Some(unsafe { &*ptr })
    }

    #[inline]
    pub(super) fn boxed_mut(&mut self) -> Option<&mut Object> {
        let ptr = self.boxed_ptr()?;
        // SAFETY: as in `boxed`; `&mut self` makes the borrow unique.
        Some(unsafe { &mut *ptr })
    }

    /// Take the boxed collection back (the entry no longer points to it).
    pub(super) fn take_boxed(&mut self) -> Option<Box<Object>> {
        let ptr = self.boxed_ptr()?;
        let f = self.flags() & !BOXED_OBJ;
        self.set_flags(f);
        // SAFETY: as in `boxed`; the flag is cleared above, so no other path
        // reads or frees this box again.
        Some(unsafe { Box::from_raw(ptr) })
    }

    /// True when the value is a string (not a collection).
    #[inline]
    pub fn is_string(&self) -> bool {
        self.flags() & (INLINE_OBJ | BOXED_OBJ) == 0
    }

    /// The collection this entry holds, where it is stored.
    #[inline]
    pub fn object(&self) -> Option<ObjRef<'_>> {
        if let Some(b) = self.boxed() {
            return Some(b.as_ref());
        }
        if self.flags() & INLINE_OBJ == 0 {
            return None;
        }
        let v = &self.bytes()[self.parts().value()..];
        ObjRef::from_inline(*v.first()?, &v[1..])
    }

    /// TYPE's name for this value.
    pub fn type_name(&self) -> &'static str {
        self.object().map_or("string", |o| o.type_name())
    }

    /// Change the collection with `f` (None for a string). A compact one is
    /// copied out, changed and stored again (one allocation, as Redis's
    /// listpack reallocates); a boxed one is changed in place, or stored in
    /// the entry when `f` left it compact.
    pub fn edit_object<R>(&mut self, f: impl FnOnce(&mut Object) -> R) -> Option<R> {
        if let Some(obj) = self.boxed_mut() {
            let r = f(obj);
            if obj.inline().is_some() {
                if let Some(obj) = self.take_boxed() {
                    self.replace_object(*obj);
                }
            }
            return Some(r);
        }
        let mut obj = self.object()?.to_owned();
        let r = f(&mut obj);
        self.replace_object(obj);
        Some(r)
    }

    /// Change a compact collection's bytes where the entry stores them,
    /// when `f` can do it without changing their length (a hash field's
    /// value replaced by one as long): no copy and no allocation, where
    /// [`Self::edit_object`] makes both. `f` gets the tag and the encoding,
    /// and returns None, having changed nothing, when it cannot; None too
    /// for a string or a boxed collection.
    pub fn edit_compact<R>(&mut self, f: impl FnOnce(u8, &mut [u8]) -> Option<R>) -> Option<R> {
        if self.flags() & INLINE_OBJ == 0 {
            return None;
        }
        let at = self.parts().value();
        let (tag, bytes) = self.bytes_mut()[at..].split_first_mut()?;
        f(*tag, bytes)
    }

    /// Append `extra` (at most three parts) to a compact collection's
    /// encoding, in one new allocation built from this entry's own bytes (a
    /// new last hash pair), where [`Self::edit_object`] copies the encoding
    /// out, changes it and copies it back. False, changing nothing, for a
    /// string or a boxed collection.
    pub fn append_compact(&mut self, extra: &[&[u8]]) -> bool {
        if self.flags() & INLINE_OBJ == 0 || extra.len() > 3 {
            return false;
        }
        let old = &self.bytes()[self.parts().value()..];
        let mut parts: [&[u8]; 4] = [old, &[], &[], &[]];
        parts[1..=extra.len()].copy_from_slice(extra);
        let mut e = Entry::assemble_inline(
            INLINE_OBJ,
            0,
            self.deadline(),
            self.key(),
            &parts[..=extra.len()],
            0,
        );
        e.inherit(self);
        *self = e;
        true
    }

    /// Store `obj` as this entry's value, keeping key, deadline and metadata.
    pub fn replace_object(&mut self, obj: Object) {
        self.rebuild_object(obj, self.deadline());
    }

    /// This entry's key and eviction state with `obj` and `deadline`.
    pub(super) fn rebuild_object(&mut self, obj: Object, deadline: Option<u64>) {
        let mut e = Entry::with_object(self.key(), obj, deadline);
        e.inherit(self);
        *self = e;
    }

    /// The value, owned (the entry is used up): a string's bytes (shared,
    /// not copied, when they were) or the collection.
    pub fn into_stored(self) -> Stored {
        if self.is_string() {
            return Stored::Str(self.into_value());
        }
        match self.into_object() {
            Some(o) => Stored::Obj(Box::new(o)),
            None => Stored::Str(Bytes::new()),
        }
    }

    /// A copy of the value (a large string's bytes are shared, not copied).
    pub fn stored(&self) -> Stored {
        match self.object() {
            None => Stored::Str(self.value_bytes()),
            Some(o) => Stored::Obj(Box::new(o.to_owned())),
        }
    }

    /// An entry holding `value`.
    pub fn from_stored(key: &[u8], value: Stored, deadline: Option<u64>) -> Entry {
        match value {
            Stored::Str(b) => Entry::from_bytes(key, b, deadline),
            Stored::Obj(o) => Entry::with_object(key, *o, deadline),
        }
    }

    /// This entry under another key: same value, deadline and access record.
    pub fn rekeyed(self, key: &[u8]) -> Entry {
        let (meta, flags, deadline) = (self.meta(), self.flags(), self.deadline());
        let mut e = Entry::from_stored(key, self.into_stored(), deadline);
        e.keep_access(meta, flags);
        e
    }

    /// The collection, owned (the entry is used up).
    pub fn into_object(mut self) -> Option<Object> {
        if let Some(b) = self.take_boxed() {
            return Some(*b);
        }
        self.object().map(|o| o.to_owned())
    }
}
