package controllers

// WebhookURL exposes the manager's webhook URL reader to the notification tests.
var WebhookURL = webhookURL
