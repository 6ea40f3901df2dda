//! The request and response shapes of list, update and delete (openapi.yaml `AssetPage`,
//! `AssetPatch`, `DeletedAsset`), and the query and `If-Match` readers they need.

use lambda_http::http::header;
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};

use super::request::query_bool;
use super::{ApiError, CompanyAsset};
use crate::domain::{
    AssetChange, AssetType, DEFAULT_LIST_LIMIT, ListFilter, MAX_LIST_LIMIT, Precondition,
    clean_asset_name,
};

/// `PATCH /{assetKey}`: any subset of the three fields, at least one; nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetPatch {
    name: Option<String>,
    priority: Option<i32>,
    active: Option<bool>,
}

impl AssetPatch {
    /// Errors: 400 `invalid_body` for a body that is not such an object (unknown fields, wrong
    /// types, `null`s, a priority outside a 32-bit integer) or changes nothing; 400
    /// `invalid_field` for a name that is too long or empty once cleaned.
    pub fn parse(body: &[u8]) -> Result<AssetChange, ApiError> {
        let patch: Self = serde_json::from_slice(body).map_err(|err| {
            ApiError::bad_request(
                "invalid_body",
                format!(
                    "the body must be a JSON object with any of name (string), priority \
                     (integer), active (boolean): {err}"
                ),
            )
        })?;
        let name = patch
            .name
            .map(|raw| match clean_asset_name(&raw) {
                Ok(Some(name)) => Ok(name),
                Ok(None) => Err(ApiError::bad_request(
                    "invalid_field",
                    "name must not be empty",
                )),
                Err(err) => Err(ApiError::bad_request("invalid_field", err.to_string())),
            })
            .transpose()?;
        let change = AssetChange {
            name,
            priority: patch.priority,
            active: patch.active,
        };
        if change.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "the body names nothing to change (name, priority, active)",
            ));
        }
        Ok(change)
    }
}

/// `If-Match` (RFC 9110 §13.1.1): `*`, or a list of entity tags. Errors: 400
/// `invalid_header` for a value that is neither.
pub fn if_match(req: &Request) -> Result<Precondition, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_header",
            "If-Match must be * or a list of entity tags such as \"v3\"",
        )
    };
    let mut tags = Vec::new();
    let mut any = false;
    for value in req.headers().get_all(header::IF_MATCH) {
        for item in value.to_str().map_err(|_| invalid())?.split(',') {
            let item = item.trim();
            match item {
                "" => {}
                "*" => any = true,
                tag if is_entity_tag(tag) => tags.push(tag.to_owned()),
                _ => return Err(invalid()),
            }
        }
    }
    Ok(match (any, tags.is_empty()) {
        (true, _) => Precondition::Any,
        (false, false) => Precondition::Tags(tags),
        (false, true) if req.headers().contains_key(header::IF_MATCH) => return Err(invalid()),
        (false, true) => Precondition::None,
    })
}

/// `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE` (RFC 9110 §8.8.3).
fn is_entity_tag(raw: &str) -> bool {
    let opaque = raw.strip_prefix("W/").unwrap_or(raw);
    opaque.len() >= 2
        && opaque.starts_with('"')
        && opaque.ends_with('"')
        && opaque[1..opaque.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
}

/// `GET /api/v1/partner/asset`'s query: the filter, the page size and the cursor (still sealed).
#[derive(Debug, PartialEq, Eq)]
pub struct ListParams {
    pub filter: ListFilter,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Errors: 400 `invalid_parameter` naming the parameter: `limit` not 1 to 200, a `type` not an
/// asset type, a boolean (`secured`, `active`, `deleted`) not written as [`query_bool`] reads.
pub fn list_params(req: &Request) -> Result<ListParams, ApiError> {
    let params = req.query_string_parameters_ref();
    let get = |name: &str| params.and_then(|p| p.first(name));
    let flag = |name: &'static str| {
        get(name)
            .map(|raw| {
                query_bool(raw).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("{name} must be true or false"),
                    )
                })
            })
            .transpose()
    };
    let limit = match get("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("limit must be a whole number from 1 to {MAX_LIST_LIMIT}"),
                )
            })?,
    };
    let asset_type = get("type")
        .map(|raw| {
            raw.parse::<AssetType>()
                .map_err(|e| ApiError::bad_request("invalid_parameter", e.to_string()))
        })
        .transpose()?;
    Ok(ListParams {
        filter: ListFilter {
            asset_type,
            secured: flag("secured")?,
            active: flag("active")?,
            deleted: flag("deleted")?.unwrap_or(false),
        },
        limit,
        cursor: get("cursor").map(str::to_owned),
    })
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct AssetPage {
    pub assets: Vec<CompanyAsset>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The answer to a `DELETE`: what happened, in terms a partner can cite.
#[derive(Debug, Serialize)]
pub struct DeletedAsset {
    pub key: String,
    pub deleted: bool,
    /// `true`: the bytes, the renditions and the record are gone.
    pub erased: bool,
    /// Milliseconds since the epoch: when it was deleted (or erased).
    pub modified: i64,
    /// Milliseconds since the epoch: the end of the retention, after which the service removes
    /// the bytes and the record (soft delete only).
    #[serde(rename = "purgeAfter", skip_serializing_if = "Option::is_none")]
    pub purge_after: Option<i64>,
    /// Objects removed from the bucket by an erasure (the original and each rendition).
    #[serde(rename = "objectsRemoved", skip_serializing_if = "Option::is_none")]
    pub objects_removed: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(values: &[&str]) -> Request {
        let mut builder = lambda_http::http::Request::builder().uri("https://x/");
        for v in values {
            builder = builder.header("if-match", *v);
        }
        builder.body(lambda_http::Body::Empty).unwrap()
    }

    #[test]
    fn if_match_reads_star_lists_and_refuses_junk() {
        assert_eq!(if_match(&with_if_match(&[])).unwrap(), Precondition::None);
        assert_eq!(if_match(&with_if_match(&["*"])).unwrap(), Precondition::Any);
        assert_eq!(
            if_match(&with_if_match(&["\"v1\", W/\"v2\"", "\"v3\""])).unwrap(),
            Precondition::Tags(vec!["\"v1\"".into(), "W/\"v2\"".into(), "\"v3\"".into()])
        );
        for bad in ["v1", "\"v1", "\"a\"b\"", ""] {
            assert!(if_match(&with_if_match(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn patches_need_a_known_field_and_a_clean_name() {
        let change = AssetPatch::parse(br#"{"name":" a\r\nb ","active":false}"#).unwrap();
        assert_eq!(change.name.as_deref(), Some("ab"));
        assert_eq!(change.active, Some(false));
        for bad in [
            &br#"{}"#[..],
            br#"{"name":"   "}"#,
            br#"{"nme":"x"}"#,
            br#"{"priority":1.5}"#,
            br#"{"priority":4294967296}"#,
            br#"{"active":"yes"}"#,
            br#"{"name":null}"#,
            br#"[]"#,
            b"",
        ] {
            let err = AssetPatch::parse(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(bad));
        }
    }
}
