//! The tenant's state kept up to date with its document incrementally.
//!
//! Reading the whole document costs time in proportion to its size (tens of
//! milliseconds for a tenant of 10,000 devices), too much per operation or
//! per synced change. So a [`Materialized`] view remembers the heads it has
//! read, and on the next look decodes only the changes since then — local
//! operations and changes received by sync alike — to find the entities they
//! touched, and re-reads just those through the same code as a full read.
//! `tests` and the property test check that the result always equals a read
//! from scratch. It only reads: it never writes to the document, and a snapshot a reader holds
//! is never changed under it (a refresh then copies the state first).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use automerge::legacy::{Key, ObjectId};
use automerge::{Automerge, ChangeHash, ObjId, Prop, ReadDoc};

use super::read::{ReadError, read_entity, read_header};
use super::schema;
use super::state::{Kind, TenantState};

/// Above this many new changes a full read is cheaper than tracing each op.
const FULL_READ_AFTER: usize = 2_000;

/// What a batch of changes touched.
#[derive(Default)]
struct Touched {
    entities: BTreeSet<(Kind, String)>,
    header: bool,
    /// Something outside the known layout changed (a top-level map replaced).
    everything: bool,
}

#[derive(Default)]
pub struct Materialized {
    /// The heads `state` reflects; `None` before the first read.
    heads: Option<Vec<ChangeHash>>,
    /// Shared with readers that take a snapshot; a refresh while one is
    /// held copies the state first (copy on write).
    state: Arc<TenantState>,
    /// The top-level maps' object ids.
    collections: HashMap<ObjId, Kind>,
    /// Statistics: full reads and incremental refreshes done.
    pub full_reads: u64,
    pub refreshes: u64,
}

impl Materialized {
    /// The state as of `doc`'s current heads.
    ///
    /// # Errors
    /// When the document is not a tenant document.
    pub fn refresh(&mut self, doc: &Automerge) -> Result<&TenantState, ReadError> {
        let heads = doc.get_heads();
        match &self.heads {
            Some(seen) if *seen == heads => {}
            Some(seen) => {
                let changes = doc.get_changes(seen);
                if changes.len() > FULL_READ_AFTER {
                    self.read_all(doc)?;
                } else {
                    let touched = self.touched(doc, &changes);
                    if touched.everything {
                        self.read_all(doc)?;
                    } else {
                        self.apply(doc, &touched)?;
                    }
                }
            }
            None => self.read_all(doc)?,
        }
        self.heads = Some(heads);
        Ok(&self.state)
    }

    /// The state last refreshed (possibly behind the document).
    pub fn state(&self) -> &TenantState {
        &self.state
    }

    /// A snapshot of the state last refreshed, to read without holding
    /// the document (long listings).
    pub fn shared(&self) -> Arc<TenantState> {
        self.state.clone()
    }

    fn read_all(&mut self, doc: &Automerge) -> Result<(), ReadError> {
        self.state = Arc::new(TenantState::read(doc)?);
        self.collections.clear();
        for kind in Kind::ALL {
            self.collections
                .insert(schema::object(doc, kind.map())?, kind);
        }
        self.full_reads += 1;
        Ok(())
    }

    fn apply(&mut self, doc: &Automerge, touched: &Touched) -> Result<(), ReadError> {
        let state = Arc::make_mut(&mut self.state);
        if touched.header {
            read_header(doc, state)?;
        }
        for (kind, id) in &touched.entities {
            match read_entity(doc, *kind, id)? {
                Some(entity) => state.put(entity),
                None => state.remove(*kind, id),
            }
        }
        state.finish();
        self.refreshes += 1;
        Ok(())
    }

    /// The entities `changes` wrote to: an op on a top-level map names the
    /// entity by its key; an op inside an entity (or deeper) is traced up
    /// to the top-level map it hangs from. The audit list is not state.
    fn touched(&self, doc: &Automerge, changes: &[automerge::Change]) -> Touched {
        let mut touched = Touched::default();
        let mut owners: HashMap<ObjId, Option<(Kind, String)>> = HashMap::new();
        for change in changes {
            for op in change.decode().operations {
                let obj = match op.obj {
                    ObjectId::Root => {
                        match &op.key {
                            Key::Map(key) if is_collection(key) => touched.everything = true,
                            _ => touched.header = true,
                        }
                        continue;
                    }
                    ObjectId::Id(id) => ObjId::Id(id.counter(), id.actor().clone(), usize::MAX),
                };
                if let Some(kind) = self.collections.get(&obj) {
                    if let Key::Map(key) = &op.key {
                        touched.entities.insert((*kind, key.to_string()));
                    }
                    continue;
                }
                let owner = owners
                    .entry(obj)
                    .or_insert_with_key(|obj| self.owner(doc, obj));
                if let Some(entity) = owner {
                    touched.entities.insert(entity.clone());
                }
            }
        }
        touched
    }

    /// The entity an object belongs to: the child of a top-level map on the
    /// object's path to the root.
    fn owner(&self, doc: &Automerge, obj: &ObjId) -> Option<(Kind, String)> {
        let parents = doc.parents(obj).ok()?;
        for parent in parents {
            if let Some(kind) = self.collections.get(&parent.obj) {
                return match parent.prop {
                    Prop::Map(key) => Some((*kind, key)),
                    Prop::Seq(_) => None,
                };
            }
        }
        None
    }
}

fn is_collection(key: &str) -> bool {
    Kind::ALL.iter().any(|k| k.map() == key)
}
