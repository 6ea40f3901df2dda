//! The application: configuration plus the storage ports, built once per cold start and shared by
//! every request of that Lambda instance.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::config::{Config, ConfigError};
use crate::storage::cloudfront::CloudFrontInvalidator;
use crate::storage::dynamo::DynamoTable;
use crate::storage::s3::S3BlobStore;
use crate::storage::secrets::{NoSigningKeys, SecretsManagerKeys};
use crate::storage::{
    ApiKeyRepo, AssetRepo, BlobStore, CdnInvalidator, SigningKeyStore, StagingArea, UploadRepo,
};

pub struct App {
    pub config: Config,
    pub blobs: Arc<dyn BlobStore>,
    pub assets: Arc<dyn AssetRepo>,
    pub keys: Arc<dyn ApiKeyRepo>,
    /// Direct uploads: the bucket's staging area and the started uploads.
    pub staging: Arc<dyn StagingArea>,
    pub uploads: Arc<dyn UploadRepo>,
    /// The secrets of signed URLs and list cursors ([`NoSigningKeys`] until set).
    pub signing: Arc<dyn SigningKeyStore>,
    /// The CDN in front of the GET path, when there is one.
    pub cdn: Option<Arc<dyn CdnInvalidator>>,
}

/// The AWS-backed adapters, exposed for the admin command and storage tests.
pub struct AwsStorage {
    pub blobs: Arc<S3BlobStore>,
    pub table: Arc<DynamoTable>,
    pub region: Option<String>,
    /// The raw clients, for tooling and tests that inspect storage directly.
    pub s3: aws_sdk_s3::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    /// Present when `SIGNING_SECRET_ID` is set.
    pub signing: Option<Arc<SecretsManagerKeys>>,
    /// Present when `CDN_DISTRIBUTION_ID` is set.
    pub cdn: Option<Arc<CloudFrontInvalidator>>,
}

impl App {
    pub fn new(
        config: Config,
        blobs: Arc<dyn BlobStore>,
        assets: Arc<dyn AssetRepo>,
        keys: Arc<dyn ApiKeyRepo>,
        staging: Arc<dyn StagingArea>,
        uploads: Arc<dyn UploadRepo>,
    ) -> Self {
        Self {
            config,
            blobs,
            assets,
            keys,
            staging,
            uploads,
            signing: Arc::new(NoSigningKeys),
            cdn: None,
        }
    }

    pub fn with_signing(mut self, signing: Arc<dyn SigningKeyStore>) -> Self {
        self.signing = signing;
        self
    }

    pub fn with_cdn(mut self, cdn: Arc<dyn CdnInvalidator>) -> Self {
        self.cdn = Some(cdn);
        self
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::on_aws(Config::from_env()?).await)
    }

    pub async fn on_aws(config: Config) -> Self {
        let storage = AwsStorage::connect(&config).await;
        let mut app = Self::new(
            config,
            storage.blobs.clone(),
            storage.table.clone(),
            storage.table.clone(),
            storage.blobs,
            storage.table,
        );
        if let Some(signing) = storage.signing {
            app = app.with_signing(signing);
        }
        if let Some(cdn) = storage.cdn {
            app = app.with_cdn(cdn);
        }
        app
    }
}

impl AwsStorage {
    pub async fn connect(config: &Config) -> Self {
        let tuning = &config.aws;
        // One HTTPS client for both services: hyper 1 with rustls on ring (see Cargo.toml).
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(tuning.connect_timeout)
                    .operation_attempt_timeout(tuning.attempt_timeout)
                    .operation_timeout(tuning.operation_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(tuning.max_attempts));
        if let Some(endpoint) = &config.aws_endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                // Local stand-ins serve buckets by path, not by virtual host names.
                .force_path_style(config.aws_endpoint_url.is_some())
                .build(),
        );
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        // Clients are cheap to build and make no call until used: only the functions whose
        // requests need a secret or an invalidation ever reach these services.
        let signing = config.signing_secret_id.as_ref().map(|id| {
            Arc::new(SecretsManagerKeys::new(
                aws_sdk_secretsmanager::Client::new(&sdk),
                id,
            ))
        });
        let cdn = config.cdn_distribution_id.as_ref().map(|id| {
            Arc::new(CloudFrontInvalidator::new(
                aws_sdk_cloudfront::Client::new(&sdk),
                id,
            ))
        });
        Self {
            signing,
            cdn,
            blobs: Arc::new(S3BlobStore::new(
                s3.clone(),
                sdk.credentials_provider()
                    .expect("the SDK's default chain always sets a credentials provider"),
                &config.bucket_name,
            )),
            table: Arc::new(DynamoTable::new(dynamo.clone(), &config.table_name)),
            region: sdk.region().map(|r| r.to_string()),
            s3,
            dynamo,
        }
    }
}
