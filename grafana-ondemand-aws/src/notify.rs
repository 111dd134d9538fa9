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
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(&notice.text))
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

/// The longest subject SNS takes: "less than 100 characters long".
const SUBJECT_MAX: usize = 99;

/// An email subject SNS accepts for `text`: printable ASCII on one line, under 100
/// characters, cut at a word with an ellipsis when longer (the message keeps it whole).
fn subject(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_ascii_control() { ' ' } else { c })
        .filter(char::is_ascii)
        .collect();
    if line.chars().count() <= SUBJECT_MAX {
        return line;
    }
    let room = SUBJECT_MAX - 3;
    let cut: String = line.chars().take(room).collect();
    let at_word = match cut.rfind(' ') {
        Some(space) if space > room / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}...", at_word.trim_end())
}

#[cfg(test)]
mod tests {
    use super::subject;

    #[test]
    fn subjects_stay_under_sns_limit_and_on_one_line() {
        let long = format!(
            "Grafana failed: {}",
            "CannotPullContainerError: pull access denied ".repeat(5)
        );
        let cut = subject(&long);
        assert!(cut.chars().count() < 100, "{cut}");
        assert!(
            cut.ends_with("...") && long.starts_with(cut.trim_end_matches("...")),
            "{cut}"
        );
        assert_eq!(subject("Grafana is running."), "Grafana is running.");
        let exactly = "x".repeat(99);
        assert_eq!(subject(&exactly), exactly);
        assert!(subject(&"y".repeat(100)).chars().count() < 100);
        assert_eq!(subject("two\nlines \u{e9}t\u{e9}"), "two lines t");
    }
}
