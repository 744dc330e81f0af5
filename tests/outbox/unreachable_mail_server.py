"""A test double for the network, not for Signpost: an email backend whose mail server refuses every
message, with an error that quotes the recipient (as real SMTP errors do). Set as EMAIL_BACKEND."""

from smtplib import SMTPRecipientsRefused

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        refused = {address: (451, b"4.3.0 Mail server temporarily rejected message") for message in email_messages
                   for address in message.recipients()}
        raise SMTPRecipientsRefused(refused)
