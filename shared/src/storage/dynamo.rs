//! DynamoDB adapter for [`AssetRepo`], [`ApiKeyRepo`] and [`UploadRepo`]: one table, partition
//! key `pk`, with `ASSET#<assetKey>`, `APIKEY#<sha256>`, `UPLOADTOKEN#<sha256>` and
//! `UPLOAD#<uploadId>` items told apart by a `kind` attribute.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use super::s3::unavailable;
use super::{ApiKeyRepo, AssetRepo, Claim, StorageError, Transition, UploadRepo};
use crate::domain::{
    ApiKeyHash, ApiKeyRecord, Asset, AssetKey, AssetType, CompanyId, ListPage, ListPosition,
    ListQuery, PendingUpload, Refusal, RenditionSize, StoredRendition, Transfer, UploadId,
    UploadState, UploadTokenRecord, Visibility,
};

type Item = HashMap<String, AttributeValue>;

const PK: &str = "pk";
const KIND_ASSET: &str = "asset";
const KIND_API_KEY: &str = "apikey";
const KIND_UPLOAD: &str = "upload";
const KIND_UPLOAD_TOKEN: &str = "uploadtoken";
/// The table's TTL attribute (template.yaml `TimeToLiveSpecification`): Unix seconds.
pub const TTL_ATTRIBUTE: &str = "expiresAt";
/// The list index (template.yaml `GlobalSecondaryIndexes`): partition `companyId`, sort
/// `createdSk` ([`ListPosition::sort_key`]). Only asset items carry `createdSk`, so the index
/// holds assets alone (a sparse index).
pub const LIST_INDEX: &str = "byCompany";
const LIST_SORT_KEY: &str = "createdSk";
/// Items a list reads per query before filtering: a page of 200 matches can need several.
const LIST_READ_BATCH: i32 = 200;
/// Queries one list request may make before answering with what it has and a cursor, so a
/// sparse filter over a long list never holds a request for long.
const LIST_MAX_QUERIES: usize = 5;

/// The IAM actions each repository method needs on the table, as `(trait::method, actions)`.
/// `template.yaml` grants a function exactly the actions of the methods it calls; a test holds the
/// two together, so keep this table in step with the SDK calls below.
pub const IAM_ACTIONS: &[(&str, &[&str])] = &[
    ("AssetRepo::insert", &["dynamodb:PutItem"]),
    ("AssetRepo::find", &["dynamodb:GetItem"]),
    ("AssetRepo::replace", &["dynamodb:PutItem"]),
    ("AssetRepo::remove", &["dynamodb:DeleteItem"]),
    ("AssetRepo::list", &["dynamodb:Query"]),
    ("ApiKeyRepo::insert", &["dynamodb:PutItem"]),
    ("ApiKeyRepo::find", &["dynamodb:GetItem"]),
    ("ApiKeyRepo::list", &["dynamodb:Scan"]),
    (
        "ApiKeyRepo::revoke",
        &["dynamodb:Scan", "dynamodb:UpdateItem"],
    ),
    ("ApiKeyRepo::insert_upload_token", &["dynamodb:PutItem"]),
    ("ApiKeyRepo::find_upload_token", &["dynamodb:GetItem"]),
    ("UploadRepo::insert", &["dynamodb:PutItem"]),
    ("UploadRepo::find", &["dynamodb:GetItem"]),
    (
        "UploadRepo::settle",
        &["dynamodb:UpdateItem", "dynamodb:GetItem"],
    ),
    (
        "UploadRepo::claim",
        &["dynamodb:UpdateItem", "dynamodb:GetItem"],
    ),
    ("UploadRepo::release", &["dynamodb:UpdateItem"]),
];

#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table if it does not exist yet (local stacks and tests; on AWS the SAM template
    /// owns it). The schema here must match `template.yaml`.
    pub async fn ensure_table(&self) -> Result<(), StorageError> {
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .set_attribute_definitions(Some(
                [PK, "companyId", LIST_SORT_KEY]
                    .into_iter()
                    .map(|name| {
                        AttributeDefinition::builder()
                            .attribute_name(name)
                            .attribute_type(ScalarAttributeType::S)
                            .build()
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?,
            ))
            .key_schema(key_element(PK, KeyType::Hash)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(LIST_INDEX)
                    .key_schema(key_element("companyId", KeyType::Hash)?)
                    .key_schema(key_element(LIST_SORT_KEY, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Puts or deletes an asset item only while it is at `expected_version`. Items written before
    /// versions existed have no `version` attribute and count as version 1.
    fn version_condition(expected_version: u64) -> &'static str {
        if expected_version == 1 {
            "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :version)"
        } else {
            "attribute_exists(pk) AND version = :version"
        }
    }

    async fn put_new(&self, item: Item) -> Result<(), StorageError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StorageError::AlreadyExists)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get(&self, pk: String) -> Result<Option<Item>, StorageError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(pk))
            .consistent_read(true)
            .send()
            .await
            .map(|out| out.item)
            .map_err(unavailable)
    }

    async fn scan_kind(&self, kind: &str) -> Result<Vec<Item>, StorageError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("kind = :kind")
                .expression_attribute_values(":kind", AttributeValue::S(kind.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

#[async_trait]
impl AssetRepo for DynamoTable {
    async fn insert(&self, asset: &Asset) -> Result<(), StorageError> {
        self.put_new(asset_to_item(asset)).await
    }

    async fn find(&self, key: &AssetKey) -> Result<Option<Asset>, StorageError> {
        self.get(asset_pk(key))
            .await?
            .map(|item| asset_from_item(&item))
            .transpose()
    }

    async fn replace(&self, asset: &Asset, expected_version: u64) -> Result<(), StorageError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(asset_to_item(asset)))
            .condition_expression(Self::version_condition(expected_version))
            .expression_attribute_values(":version", n(expected_version))
            .send()
            .await;
        result.map(|_| ()).map_err(|err| {
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception())
            {
                StorageError::Conflict
            } else {
                unavailable(err)
            }
        })
    }

    async fn remove(&self, key: &AssetKey, expected_version: u64) -> Result<(), StorageError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(asset_pk(key)))
            .condition_expression(Self::version_condition(expected_version))
            .expression_attribute_values(":version", n(expected_version))
            .send()
            .await;
        result.map(|_| ()).map_err(|err| {
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception())
            {
                StorageError::Conflict
            } else {
                unavailable(err)
            }
        })
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError> {
        let mut assets = Vec::new();
        let mut start = query.after.as_ref().map(|after| {
            HashMap::from([
                (PK.to_owned(), AttributeValue::S(asset_pk(&after.key))),
                ("companyId".to_owned(), s(query.company.as_str())),
                (LIST_SORT_KEY.to_owned(), s(&after.sort_key())),
            ])
        });
        for _ in 0..LIST_MAX_QUERIES {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(LIST_INDEX)
                .key_condition_expression("companyId = :company")
                .expression_attribute_values(":company", s(query.company.as_str()))
                // Newest first. The filter is applied in code, after the read, exactly as a
                // FilterExpression would be (DynamoDB filters after `Limit` too), so the memory
                // adapter and this one share `ListFilter::matches`.
                .scan_index_forward(false)
                .limit(LIST_READ_BATCH)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items.unwrap_or_default() {
                let asset = asset_from_item(&item)?;
                if query.filter.matches(&asset) {
                    assets.push(asset);
                    if assets.len() == query.limit {
                        let next = assets.last().map(Asset::list_position);
                        return Ok(ListPage { assets, next });
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(ListPage { assets, next: None });
            }
        }
        // Out of queries: answer what matched so far and resume where the reading stopped.
        let next = start
            .as_ref()
            .and_then(|key| match key.get(LIST_SORT_KEY) {
                Some(AttributeValue::S(sk)) => ListPosition::parse_sort_key(sk),
                _ => None,
            })
            .ok_or_else(|| corrupt(LIST_SORT_KEY))?;
        Ok(ListPage {
            assets,
            next: Some(next),
        })
    }
}

#[async_trait]
impl ApiKeyRepo for DynamoTable {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), StorageError> {
        self.put_new(key_to_item(record)).await
    }

    async fn find(&self, hash: &ApiKeyHash) -> Result<Option<ApiKeyRecord>, StorageError> {
        self.get(key_pk(hash))
            .await?
            .map(|item| key_from_item(&item))
            .transpose()
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        self.scan_kind(KIND_API_KEY)
            .await?
            .iter()
            .map(key_from_item)
            .collect()
    }

    async fn revoke(&self, key_id: &str) -> Result<bool, StorageError> {
        let Some(record) = ApiKeyRepo::list(self)
            .await?
            .into_iter()
            .find(|r| r.key_id() == key_id)
        else {
            return Ok(false);
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key_pk(&record.hash)))
            .update_expression("SET revoked = :true")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn insert_upload_token(&self, record: &UploadTokenRecord) -> Result<(), StorageError> {
        self.put_new(token_to_item(record)).await
    }

    async fn find_upload_token(
        &self,
        hash: &ApiKeyHash,
    ) -> Result<Option<UploadTokenRecord>, StorageError> {
        self.get(token_pk(hash))
            .await?
            .map(|item| token_from_item(&item))
            .transpose()
    }
}

#[async_trait]
impl UploadRepo for DynamoTable {
    async fn insert(&self, upload: &PendingUpload) -> Result<(), StorageError> {
        self.put_new(upload_to_item(upload)).await
    }

    async fn find(&self, id: &UploadId) -> Result<Option<PendingUpload>, StorageError> {
        self.get(upload_pk(id))
            .await?
            .map(|item| upload_from_item(&item))
            .transpose()
    }

    async fn settle(&self, id: &UploadId, state: &UploadState) -> Result<Transition, StorageError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(upload_pk(id)))
            .condition_expression("attribute_exists(pk) AND #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(UploadState::Pending.as_str()))
            .expression_attribute_values(":state", s(state.as_str()));
        update = match state {
            UploadState::Refused(refusal) => update
                .update_expression(
                    "SET #state = :state, refusalStatus = :status, refusalCode = :code, \
                     refusalMessage = :message REMOVE leaseUntil",
                )
                .expression_attribute_values(":status", n(refusal.status))
                .expression_attribute_values(":code", s(&refusal.code))
                .expression_attribute_values(":message", s(&refusal.message)),
            _ => update.update_expression("SET #state = :state REMOVE leaseUntil"),
        };
        match update.send().await {
            Ok(_) => Ok(Transition::Done),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(match UploadRepo::find(self, id).await? {
                    Some(upload) => Transition::AlreadySettled(upload.state),
                    None => Transition::Missing,
                })
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn claim(
        &self,
        id: &UploadId,
        now_s: i64,
        lease: std::time::Duration,
    ) -> Result<Claim, StorageError> {
        use aws_sdk_dynamodb::types::ReturnValue;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(upload_pk(id)))
            .update_expression("SET leaseUntil = :until")
            .condition_expression(
                "attribute_exists(pk) AND #state = :pending \
                 AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(UploadState::Pending.as_str()))
            .expression_attribute_values(":now", n(now_s))
            .expression_attribute_values(":until", n(now_s + lease.as_secs() as i64))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out
                .attributes
                .as_ref()
                .map(upload_from_item)
                .transpose()?
                .map(Claim::Acquired)
                .ok_or_else(|| corrupt("UpdateItem answered no attributes")),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(match UploadRepo::find(self, id).await? {
                    None => Claim::Missing,
                    Some(upload) if upload.state != UploadState::Pending => Claim::Settled(upload),
                    Some(_) => Claim::Busy,
                })
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn release(&self, id: &UploadId) -> Result<(), StorageError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(upload_pk(id)))
            .update_expression("REMOVE leaseUntil")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .or_else(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Ok(())
                } else {
                    Err(unavailable(err))
                }
            })
    }
}

fn upload_pk(id: &UploadId) -> String {
    format!("UPLOAD#{id}")
}

fn upload_to_item(u: &PendingUpload) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), AttributeValue::S(upload_pk(&u.id))),
        ("kind".to_owned(), s(KIND_UPLOAD)),
        ("uploadId".to_owned(), s(u.id.as_str())),
        ("companyId".to_owned(), s(u.company_id.as_str())),
        ("visibility".to_owned(), s(u.visibility.as_str())),
        ("name".to_owned(), s(&u.name)),
        ("assetKey".to_owned(), s(u.asset_key.as_str())),
        ("state".to_owned(), s(u.state.as_str())),
        ("created".to_owned(), n(u.created_ms)),
        ("maxBytes".to_owned(), n(u.max_bytes)),
        (TTL_ATTRIBUTE.to_owned(), n(u.expires_at_s)),
    ]);
    if let Some(token) = &u.token_id {
        item.insert("tokenId".to_owned(), s(token));
    }
    if let Some(t) = u.declared_type {
        item.insert("assetType".to_owned(), s(t.as_str()));
    }
    if let Some(size) = u.declared_size {
        item.insert("declaredSize".to_owned(), n(size));
    }
    if let Some(sha) = &u.declared_sha256 {
        item.insert("declaredSha256".to_owned(), s(sha));
    }
    if let Transfer::Multipart { s3_upload_id } = &u.transfer {
        item.insert("s3UploadId".to_owned(), s(s3_upload_id));
    }
    if let UploadState::Refused(r) = &u.state {
        item.insert("refusalStatus".to_owned(), n(r.status));
        item.insert("refusalCode".to_owned(), s(&r.code));
        item.insert("refusalMessage".to_owned(), s(&r.message));
    }
    item
}

fn upload_from_item(item: &Item) -> Result<PendingUpload, StorageError> {
    let r = ItemReader(item);
    let optional_s = |field: &str| item.get(field).map(|_| r.s(field)).transpose();
    let state = match r.s("state")?.as_str() {
        "pending" => UploadState::Pending,
        "ready" => UploadState::Ready,
        "aborted" => UploadState::Aborted,
        "refused" => UploadState::Refused(Refusal {
            status: r.n("refusalStatus")?,
            code: r.s("refusalCode")?,
            message: r.s("refusalMessage")?,
        }),
        _ => return Err(corrupt("state")),
    };
    Ok(PendingUpload {
        id: UploadId::parse(&r.s("uploadId")?).ok_or_else(|| corrupt("uploadId"))?,
        company_id: CompanyId::parse(&r.s("companyId")?).map_err(|_| corrupt("companyId"))?,
        visibility: Visibility::parse(&r.s("visibility")?).ok_or_else(|| corrupt("visibility"))?,
        name: r.s("name")?,
        declared_type: optional_s("assetType")?
            .map(|t| t.parse::<AssetType>().map_err(|_| corrupt("assetType")))
            .transpose()?,
        declared_size: item
            .get("declaredSize")
            .map(|_| r.n("declaredSize"))
            .transpose()?,
        declared_sha256: optional_s("declaredSha256")?,
        max_bytes: r.n("maxBytes")?,
        token_id: optional_s("tokenId")?,
        asset_key: AssetKey::parse(&r.s("assetKey")?).ok_or_else(|| corrupt("assetKey"))?,
        transfer: match optional_s("s3UploadId")? {
            Some(s3_upload_id) => Transfer::Multipart { s3_upload_id },
            None => Transfer::SingleRequest,
        },
        state,
        created_ms: r.n("created")?,
        expires_at_s: r.n(TTL_ATTRIBUTE)?,
    })
}

fn asset_pk(key: &AssetKey) -> String {
    format!("ASSET#{key}")
}

fn key_pk(hash: &ApiKeyHash) -> String {
    format!("APIKEY#{}", hash.as_str())
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StorageError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| StorageError::Unavailable(e.to_string()))
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn asset_to_item(a: &Asset) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), AttributeValue::S(asset_pk(&a.key))),
        ("kind".to_owned(), s(KIND_ASSET)),
        ("id".to_owned(), s(&a.id)),
        ("assetKey".to_owned(), s(a.key.as_str())),
        ("companyId".to_owned(), s(a.company_id.as_str())),
        ("name".to_owned(), s(&a.name)),
        ("assetType".to_owned(), s(a.asset_type.as_str())),
        ("visibility".to_owned(), s(a.visibility.as_str())),
        ("contentType".to_owned(), s(&a.content_type)),
        ("size".to_owned(), n(a.size)),
        ("sha256".to_owned(), s(&a.sha256)),
        ("objectKey".to_owned(), s(&a.object_key)),
        ("created".to_owned(), n(a.created_ms)),
        ("modified".to_owned(), n(a.modified_ms)),
        ("deleted".to_owned(), AttributeValue::Bool(a.deleted)),
        ("active".to_owned(), AttributeValue::Bool(a.active)),
        ("priority".to_owned(), n(a.priority)),
        ("updated".to_owned(), AttributeValue::Bool(a.updated)),
        ("version".to_owned(), n(a.version)),
        (LIST_SORT_KEY.to_owned(), s(&a.list_position().sort_key())),
    ]);
    // A deleted asset's record and bytes go when the table's TTL passes (the purge function).
    if let Some(purge_at) = a.purge_at_s {
        item.insert(TTL_ATTRIBUTE.to_owned(), n(purge_at));
    }
    if let Some((width, height)) = a.dimensions {
        item.insert("width".to_owned(), n(width));
        item.insert("height".to_owned(), n(height));
    }
    if !a.renditions.is_empty() {
        let renditions = a.renditions.iter().map(rendition_to_value).collect();
        item.insert("renditions".to_owned(), AttributeValue::L(renditions));
    }
    item
}

fn rendition_to_value(r: &StoredRendition) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("size".to_owned(), s(r.size.as_str())),
        ("contentType".to_owned(), s(&r.content_type)),
        ("bytes".to_owned(), n(r.bytes)),
        ("sha256".to_owned(), s(&r.sha256)),
        ("width".to_owned(), n(r.width)),
        ("height".to_owned(), n(r.height)),
    ]))
}

fn rendition_from_value(value: &AttributeValue) -> Result<StoredRendition, StorageError> {
    let map = value.as_m().map_err(|_| corrupt("renditions"))?;
    let r = ItemReader(map);
    Ok(StoredRendition {
        size: RenditionSize::parse(&r.s("size")?).ok_or_else(|| corrupt("renditions.size"))?,
        content_type: r.s("contentType")?,
        bytes: r.n("bytes")?,
        sha256: r.s("sha256")?,
        width: r.n("width")?,
        height: r.n("height")?,
    })
}

/// An asset from its item. Items written before the lifecycle fields existed read as they were
/// then: active, priority 0, version 1, `updated` when modified after creation.
fn asset_from_item(item: &Item) -> Result<Asset, StorageError> {
    let r = ItemReader(item);
    let created_ms: i64 = r.n("created")?;
    let modified_ms: i64 = r.n("modified")?;
    let deleted = r.bool("deleted")?;
    Ok(Asset {
        id: r.s("id")?,
        key: AssetKey::parse(&r.s("assetKey")?).ok_or_else(|| corrupt("assetKey"))?,
        company_id: CompanyId::parse(&r.s("companyId")?).map_err(|_| corrupt("companyId"))?,
        name: r.s("name")?,
        asset_type: r
            .s("assetType")?
            .parse::<AssetType>()
            .map_err(|_| corrupt("assetType"))?,
        visibility: Visibility::parse(&r.s("visibility")?).ok_or_else(|| corrupt("visibility"))?,
        content_type: r.s("contentType")?,
        size: r.n("size")?,
        sha256: r.s("sha256")?,
        dimensions: match (item.get("width"), item.get("height")) {
            (Some(_), Some(_)) => Some((r.n("width")?, r.n("height")?)),
            _ => None,
        },
        object_key: r.s("objectKey")?,
        renditions: match item.get("renditions") {
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(rendition_from_value)
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(corrupt("renditions")),
            None => Vec::new(),
        },
        created_ms,
        modified_ms,
        deleted,
        active: item.get("active").map_or(Ok(true), |_| r.bool("active"))?,
        priority: item.get("priority").map_or(Ok(0), |_| r.n("priority"))?,
        updated: item
            .get("updated")
            .map_or(Ok(modified_ms != created_ms), |_| r.bool("updated"))?,
        version: item.get("version").map_or(Ok(1), |_| r.n("version"))?,
        purge_at_s: match item.get(TTL_ATTRIBUTE) {
            Some(_) if deleted => Some(r.n(TTL_ATTRIBUTE)?),
            _ => None,
        },
    })
}

/// The image the table's stream carries for this asset's record (events/ samples and tests).
pub fn asset_stream_image(asset: &Asset) -> serde_dynamo::Item {
    asset_to_item(asset).into()
}

/// An asset from an image of the table's stream (`NEW_AND_OLD_IMAGES`); `Ok(None)` for an absent
/// image or an item that is not an asset.
pub fn asset_from_stream_image(image: serde_dynamo::Item) -> Result<Option<Asset>, StorageError> {
    let item: Item = image.into();
    match item.get("kind") {
        Some(AttributeValue::S(kind)) if kind == KIND_ASSET => asset_from_item(&item).map(Some),
        _ => Ok(None),
    }
}

fn key_to_item(k: &ApiKeyRecord) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key_pk(&k.hash))),
        ("kind".to_owned(), s(KIND_API_KEY)),
        ("keyHash".to_owned(), s(k.hash.as_str())),
        ("keyId".to_owned(), s(k.key_id())),
        ("companyId".to_owned(), s(k.company_id.as_str())),
        ("created".to_owned(), n(k.created_ms)),
        ("revoked".to_owned(), AttributeValue::Bool(k.revoked)),
    ])
}

fn key_from_item(item: &Item) -> Result<ApiKeyRecord, StorageError> {
    let r = ItemReader(item);
    Ok(ApiKeyRecord {
        hash: ApiKeyHash::from_hex(r.s("keyHash")?),
        company_id: CompanyId::parse(&r.s("companyId")?).map_err(|_| corrupt("companyId"))?,
        created_ms: r.n("created")?,
        revoked: r.bool("revoked")?,
    })
}

fn token_pk(hash: &ApiKeyHash) -> String {
    format!("UPLOADTOKEN#{}", hash.as_str())
}

fn token_to_item(t: &UploadTokenRecord) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(token_pk(&t.hash))),
        ("kind".to_owned(), s(KIND_UPLOAD_TOKEN)),
        ("tokenHash".to_owned(), s(t.hash.as_str())),
        ("companyId".to_owned(), s(t.company_id.as_str())),
        ("visibility".to_owned(), s(t.visibility.as_str())),
        ("maxBytes".to_owned(), n(t.max_bytes)),
        ("created".to_owned(), n(t.created_ms)),
        (TTL_ATTRIBUTE.to_owned(), n(t.expires_at_s)),
    ])
}

fn token_from_item(item: &Item) -> Result<UploadTokenRecord, StorageError> {
    let r = ItemReader(item);
    Ok(UploadTokenRecord {
        hash: ApiKeyHash::from_hex(r.s("tokenHash")?),
        company_id: CompanyId::parse(&r.s("companyId")?).map_err(|_| corrupt("companyId"))?,
        visibility: Visibility::parse(&r.s("visibility")?).ok_or_else(|| corrupt("visibility"))?,
        max_bytes: r.n("maxBytes")?,
        created_ms: r.n("created")?,
        expires_at_s: r.n(TTL_ATTRIBUTE)?,
    })
}

fn corrupt(field: &str) -> StorageError {
    StorageError::Corrupt(format!("attribute {field} is missing or malformed"))
}

struct ItemReader<'a>(&'a Item);

impl ItemReader<'_> {
    fn s(&self, field: &str) -> Result<String, StorageError> {
        match self.0.get(field) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(corrupt(field)),
        }
    }

    fn n<T: std::str::FromStr>(&self, field: &str) -> Result<T, StorageError> {
        match self.0.get(field) {
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(field)),
            _ => Err(corrupt(field)),
        }
    }

    fn bool(&self, field: &str) -> Result<bool, StorageError> {
        match self.0.get(field) {
            Some(AttributeValue::Bool(v)) => Ok(*v),
            _ => Err(corrupt(field)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewAsset, detect_content, sha256_hex};

    #[test]
    fn asset_items_round_trip() {
        let bytes = b"%PDF-1.4\n";
        let content = detect_content(bytes, None).unwrap();
        let asset = Asset::create(NewAsset {
            key: AssetKey::generate(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "Quarterly \"report\" ü".into(),
            visibility: Visibility::Public,
            content: &content,
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            dimensions: Some((640, 480)),
            renditions: vec![StoredRendition::describe(
                crate::domain::RenditionSize::Thumb,
                "image/jpeg",
                b"thumb bytes",
                160,
                120,
            )],
            now_ms: 1_700_000_000_123,
        });
        assert_eq!(asset_from_item(&asset_to_item(&asset)).unwrap(), asset);
    }

    #[test]
    fn malformed_items_are_corrupt_not_panics() {
        let mut item = asset_to_item(&Asset::create(NewAsset {
            key: AssetKey::generate(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "x".into(),
            visibility: Visibility::Private,
            content: &detect_content(b"hi", None).unwrap(),
            size: 2,
            sha256: sha256_hex(b"hi"),
            dimensions: None,
            renditions: Vec::new(),
            now_ms: 0,
        }));
        item.insert("size".into(), AttributeValue::S("big".into()));
        assert!(matches!(
            asset_from_item(&item),
            Err(StorageError::Corrupt(_))
        ));
    }
}
