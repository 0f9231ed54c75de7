//! Retried catalog writes answer their first outcome. The catalog leader is told
//! (`--test-drop-reply-key`, a hidden test option of `cairn node`) to carry out the
//! first write of some object keys and then close the connection instead of
//! replying: the gateway sees a lost reply after the commit and tries again with
//! the same request id. Always a cluster (the embedded server has no RPC).

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use cairn_tests::*;

const PUT_KEY: &str = "once/if-none-match";
const MPU_KEY: &str = "once/multipart";
const DROPPED: &str = "dropping the reply of a committed catalog write";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_whose_reply_was_lost_answers_its_first_outcome() {
    let opts = ServerOpts::new().node_args(&[
        "--test-drop-reply-key",
        PUT_KEY,
        "--test-drop-reply-key",
        MPU_KEY,
    ]);
    let cluster = Cluster::start(ClusterOpts::new().server(opts)).await;
    // One S3 attempt per call: the only retry is the gateway's own.
    let c = Client::from_conf(
        cluster
            .config_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    create_bucket(&c, "retry").await;

    // PUT If-None-Match: *. The retry must not find "its own" object and answer 412.
    let data = payload(1, 1000);
    let res = c
        .put_object()
        .bucket("retry")
        .key(PUT_KEY)
        .if_none_match("*")
        .body(body(data.clone()))
        .send()
        .await;
    assert!(
        res.is_ok(),
        "conditional PUT: {}",
        res.err().map(|e| describe(&e)).unwrap_or_default()
    );
    assert_eq!(get_bytes(&c, "retry", PUT_KEY).await, data);
    // A new write of the key is still refused.
    let again = c
        .put_object()
        .bucket("retry")
        .key(PUT_KEY)
        .if_none_match("*")
        .body(body(b"other".to_vec()))
        .send()
        .await;
    assert_err(again, 412, &["PreconditionFailed"]);

    // CompleteMultipartUpload: the retry must not answer NoSuchUpload.
    let upload = c
        .create_multipart_upload()
        .bucket("retry")
        .key(MPU_KEY)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let part = payload(2, 300 * KIB);
    let etag = c
        .upload_part()
        .bucket("retry")
        .key(MPU_KEY)
        .upload_id(&upload)
        .part_number(1)
        .body(body(part.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let done = c
        .complete_multipart_upload()
        .bucket("retry")
        .key(MPU_KEY)
        .upload_id(&upload)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await;
    assert!(
        done.is_ok(),
        "complete: {}",
        done.err().map(|e| describe(&e)).unwrap_or_default()
    );
    assert_eq!(
        done.unwrap().e_tag().unwrap(),
        multipart_etag([part.as_slice()])
    );
    assert_eq!(get_bytes(&c, "retry", MPU_KEY).await, part);

    // Both replies were in fact dropped after their commit.
    let logs = cluster.log_tail(4 << 20);
    assert_eq!(
        logs.matches(DROPPED).count(),
        2,
        "dropped replies in the logs"
    );
}
