//! An asset's life after its upload: metadata changes, optimistic concurrency, soft deletion and
//! its retention, and the filters and positions of a company's list.

use std::time::Duration;

use super::asset::{Asset, AssetType, Visibility};
use super::{AssetKey, CompanyId};

/// How long a soft-deleted asset's bytes are kept before the purge: 30 days, the default
/// (`RETENTION_DAYS`), long enough to undo a mistaken delete with support's help.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// A `PATCH`: the fields to set, each optional; at least one is present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetChange {
    /// Already cleaned ([`super::clean_asset_name`]).
    pub name: Option<String>,
    pub priority: Option<i32>,
    pub active: Option<bool>,
}

impl AssetChange {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.priority.is_none() && self.active.is_none()
    }
}

/// What a client's `If-Match` (RFC 9110 §13.1.1) says about the version it last saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`: the change applies to whatever version is current.
    None,
    /// `If-Match: *`: any current version (the asset exists).
    Any,
    /// One or more entity tags; the change applies only if one of them is the current one.
    Tags(Vec<String>),
}

impl Precondition {
    pub fn holds_for(&self, asset: &Asset) -> bool {
        match self {
            Self::None | Self::Any => true,
            Self::Tags(tags) => {
                let current = asset.metadata_etag();
                // Strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
                tags.contains(&current)
            }
        }
    }
}

impl Asset {
    /// The entity tag of the asset's metadata (its `CompanyAsset`): `"v<version>"`. Distinct from
    /// [`Asset::etag`], the content's. Upload, list and `PATCH` return it; `If-Match` checks it.
    pub fn metadata_etag(&self) -> String {
        format!("\"v{}\"", self.version)
    }

    /// Applies a `PATCH`: the given fields, `updated` set, `modified` now, the version moved on.
    pub fn apply(&mut self, change: &AssetChange, now_ms: i64) {
        if let Some(name) = &change.name {
            self.name.clone_from(name);
        }
        if let Some(priority) = change.priority {
            self.priority = priority;
        }
        if let Some(active) = change.active {
            self.active = active;
        }
        self.touch(now_ms);
    }

    /// Marks the asset deleted at `now_ms`, its bytes to be purged after `retention`. `false`
    /// (and nothing changed) when it already was: deleting twice is harmless.
    pub fn soft_delete(&mut self, now_ms: i64, retention: Duration) -> bool {
        if self.deleted {
            return false;
        }
        self.deleted = true;
        self.purge_at_s = Some(now_ms.div_euclid(1000) + retention.as_secs() as i64);
        self.touch(now_ms);
        true
    }

    fn touch(&mut self, now_ms: i64) {
        self.updated = true;
        // Never before the creation, whatever a skewed clock says.
        self.modified_ms = now_ms.max(self.created_ms);
        self.version += 1;
    }

    /// Where the asset sits in its company's list (newest first).
    pub fn list_position(&self) -> ListPosition {
        ListPosition {
            created_ms: self.created_ms,
            key: self.key.clone(),
        }
    }
}

/// A place in a company's list, newest first: assets created at the same millisecond are ordered
/// by key, so every asset has exactly one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPosition {
    pub created_ms: i64,
    pub key: AssetKey,
}

impl ListPosition {
    /// The sort key of the list index: the creation time zero-padded to 13 digits (milliseconds
    /// until the year 2286), `#`, the key. Sorting these strings sorts by time, then key.
    pub fn sort_key(&self) -> String {
        format!("{:013}#{}", self.created_ms.max(0), self.key)
    }

    pub fn parse_sort_key(raw: &str) -> Option<Self> {
        let (created, key) = raw.split_once('#')?;
        if created.len() != 13 || !created.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            created_ms: created.parse().ok()?,
            key: AssetKey::parse(key)?,
        })
    }
}

/// Which of a company's assets a list shows. `None` filters nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub asset_type: Option<AssetType>,
    /// `true`: private assets only; `false`: public ones only.
    pub secured: Option<bool>,
    pub active: Option<bool>,
    /// `false` (the default): live assets; `true`: soft-deleted ones still within their retention.
    pub deleted: bool,
}

impl ListFilter {
    pub fn matches(&self, asset: &Asset) -> bool {
        asset.deleted == self.deleted
            && self.asset_type.is_none_or(|t| asset.asset_type == t)
            && self
                .secured
                .is_none_or(|s| (asset.visibility == Visibility::Private) == s)
            && self.active.is_none_or(|a| asset.active == a)
    }
}

/// Default and largest page of a list (the numbers: 50 and 200).
pub const DEFAULT_LIST_LIMIT: usize = 50;
pub const MAX_LIST_LIMIT: usize = 200;

/// One request for a page of a company's assets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub company: CompanyId,
    pub filter: ListFilter,
    /// 1 to [`MAX_LIST_LIMIT`].
    pub limit: usize,
    /// Start after this place; `None` for the newest.
    pub after: Option<ListPosition>,
}

/// A page: at most `limit` assets, newest first, and where the next page starts (`None` at the
/// end of the list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub assets: Vec<Asset>,
    pub next: Option<ListPosition>,
}

/// What must follow a change of an asset's record, seen on the table's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterChange {
    /// Delete the asset's bytes (original and renditions): its retention ended and the table's
    /// TTL removed its record.
    PurgeBytes,
    /// Drop a CDN's copies: anyone could read the asset before the change and not after it.
    DropCdnCopies,
}

/// The effects of a record going from `old` to `new` (`None`: no record, or not an asset).
/// `expired` says the table's TTL removed the record (not a client's erasure). Only a deleted
/// asset's expiry purges bytes: a record the TTL removed for any other reason keeps them, so a
/// wrong TTL can never destroy a live asset.
pub fn after_change(old: Option<&Asset>, new: Option<&Asset>, expired: bool) -> Vec<AfterChange> {
    use super::Reader;
    let mut effects = Vec::new();
    if let (Some(old), None, true) = (old, new, expired)
        && old.deleted
    {
        effects.push(AfterChange::PurgeBytes);
    }
    let public_before = old.is_some_and(|a| a.readable_by(Reader::Anonymous));
    let public_after = new.is_some_and(|a| a.readable_by(Reader::Anonymous));
    if public_before && !public_after {
        effects.push(AfterChange::DropCdnCopies);
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewAsset, detect_content, sha256_hex};

    fn asset() -> Asset {
        let bytes = b"%PDF-1.4\n";
        Asset::create(NewAsset {
            key: AssetKey::generate(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "a.pdf".into(),
            visibility: Visibility::Private,
            content: &detect_content(bytes, None).unwrap(),
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            dimensions: None,
            renditions: Vec::new(),
            now_ms: 1_000,
        })
    }

    #[test]
    fn a_change_sets_its_fields_and_moves_the_version() {
        let mut a = asset();
        assert_eq!(a.metadata_etag(), "\"v1\"");
        a.apply(
            &AssetChange {
                name: Some("b.pdf".into()),
                priority: Some(-3),
                active: Some(false),
            },
            5_000,
        );
        assert_eq!(
            (a.name.as_str(), a.priority, a.active),
            ("b.pdf", -3, false)
        );
        assert!(a.updated);
        assert_eq!(a.modified_ms, 5_000);
        assert_eq!(a.metadata_etag(), "\"v2\"");
        // A clock behind the creation never makes `modified` earlier than `created`.
        a.apply(&AssetChange::default(), 10);
        assert_eq!(a.modified_ms, 1_000);
    }

    #[test]
    fn preconditions_compare_strongly() {
        let a = asset();
        assert!(Precondition::None.holds_for(&a));
        assert!(Precondition::Any.holds_for(&a));
        assert!(Precondition::Tags(vec!["\"v9\"".into(), "\"v1\"".into()]).holds_for(&a));
        assert!(!Precondition::Tags(vec!["W/\"v1\"".into()]).holds_for(&a));
        assert!(!Precondition::Tags(vec!["\"v2\"".into()]).holds_for(&a));
    }

    #[test]
    fn deleting_twice_changes_nothing_the_second_time() {
        let mut a = asset();
        assert!(a.soft_delete(2_500, Duration::from_secs(60)));
        assert!(a.deleted && a.updated);
        assert_eq!(a.purge_at_s, Some(62));
        let after_first = a.clone();
        assert!(!a.soft_delete(9_000, Duration::from_secs(60)));
        assert_eq!(a, after_first);
    }

    #[test]
    fn only_an_expired_deleted_asset_is_purged_and_only_public_loss_invalidates() {
        let mut public = asset();
        public.visibility = Visibility::Public;
        let mut deleted = public.clone();
        deleted.soft_delete(2_000, DEFAULT_RETENTION);
        let mut hidden = public.clone();
        hidden.active = false;
        let private = asset();
        let mut private_deleted = private.clone();
        private_deleted.soft_delete(2_000, DEFAULT_RETENTION);
        use AfterChange::*;
        type Case<'a> = (
            Option<&'a Asset>,
            Option<&'a Asset>,
            bool,
            &'a [AfterChange],
        );
        let cases: [Case<'_>; 9] = [
            (Some(&public), Some(&deleted), false, &[DropCdnCopies]),
            (Some(&public), Some(&hidden), false, &[DropCdnCopies]),
            (Some(&hidden), Some(&public), false, &[]),
            (Some(&deleted), None, true, &[PurgeBytes]),
            (Some(&public), None, false, &[DropCdnCopies]),
            // A live asset's record removed by a TTL: its bytes stay.
            (Some(&public), None, true, &[DropCdnCopies]),
            (Some(&private), Some(&private_deleted), false, &[]),
            (Some(&private_deleted), None, true, &[PurgeBytes]),
            (None, Some(&public), false, &[]),
        ];
        for (i, (old, new, expired, effects)) in cases.into_iter().enumerate() {
            assert_eq!(after_change(old, new, expired), effects, "case {i}");
        }
    }

    #[test]
    fn sort_keys_order_by_time_then_key_and_parse_back() {
        let a = asset();
        let position = a.list_position();
        let sk = position.sort_key();
        assert!(sk.starts_with("0000000001000#"));
        assert_eq!(ListPosition::parse_sort_key(&sk), Some(position));
        let later = ListPosition {
            created_ms: 10_000,
            key: a.key.clone(),
        };
        assert!(later.sort_key() > sk);
        for bad in ["", "1000#x", "000000000100a#KEY", "0000000001000"] {
            assert_eq!(ListPosition::parse_sort_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn filters_select_by_each_field() {
        let mut a = asset();
        let all = ListFilter::default();
        assert!(all.matches(&a));
        assert!(
            !ListFilter {
                secured: Some(false),
                ..all.clone()
            }
            .matches(&a)
        );
        assert!(
            !ListFilter {
                asset_type: Some(AssetType::Image),
                ..all.clone()
            }
            .matches(&a)
        );
        a.active = false;
        assert!(
            ListFilter {
                active: Some(false),
                ..all.clone()
            }
            .matches(&a)
        );
        a.deleted = true;
        assert!(!all.matches(&a));
        assert!(
            ListFilter {
                deleted: true,
                ..all
            }
            .matches(&a)
        );
    }
}
