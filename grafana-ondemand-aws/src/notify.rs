//! [`SnsTopic`]: notices published to an SNS topic (email, SMS, chat, queues subscribe to it).

use crate::errors::{Names, map};
use async_trait::async_trait;
use grafana_ondemand_core::{Error, Notice, Notifier, Result};

/// An SNS topic notices are published to: the sentence as the message, a short subject for
/// email subscribers, and the kind as a message attribute for subscription filters.
#[derive(Debug, Clone)]
pub struct SnsTopic {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsTopic {
    /// The topic `topic_arn`, reached with this SDK configuration.
    pub fn new(sdk: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        SnsTopic {
            sns: aws_sdk_sns::Client::new(sdk),
            topic_arn: topic_arn.into(),
        }
    }
}

#[async_trait]
impl Notifier for SnsTopic {
    async fn send(&self, notice: &Notice) -> Result<()> {
        use aws_sdk_sns::types::MessageAttributeValue;
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(notice.kind.as_str())
            .build()
            .map_err(|e| Error::backend("sns:Publish", e))?;
        // Email subjects: ASCII, at most 100 characters.
        let subject: String = notice
            .text
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(100)
            .collect();
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(&notice.text)
            .message_attributes("kind", kind)
            .send()
            .await
            .map_err(|e| {
                let names = Names {
                    cluster: String::new(),
                    service: String::new(),
                };
                match map(e, "sns:Publish", &names) {
                    Error::Backend { .. } => Error::NotDelivered {
                        channel: format!("SNS topic `{}`", self.topic_arn),
                        problem: "SNS refused the message (does the topic exist in this region?)"
                            .into(),
                    },
                    other => other,
                }
            })?;
        Ok(())
    }
}
