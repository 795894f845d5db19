"""The seller's alerts: a message on the deployment's alerts topic (SNS, resources.ALERTS_TOPIC),
which the alarms use too; the seller subscribes an e-mail address (`make deploy ALERT_EMAIL=...`)."""
from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib import config
from chalicelib.core import aws


class AlertNotSent(Exception):
    """The message was certainly not published (refused, or SNS not reached)."""


class SnsAlerts:
    def publish(self, subject: str, message: str) -> None:
        try:
            aws.client("sns").publish(TopicArn=config.alerts_topic_arn(), Subject=subject, Message=message)
        except ClientError as refused:
            raise AlertNotSent(f"the alerts topic refused the message: "
                               f"{refused.response.get('Error', {}).get('Code', 'an error')}") from refused
        except EndpointConnectionError as unreachable:  # never connected: certainly not sent
            raise AlertNotSent("the alerts topic could not be reached") from unreachable
        # A timeout after connecting is left to raise: the message may have gone, and an alert
        # goes at most once.
