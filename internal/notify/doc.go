// Package notify reports a finished run to a webhook: a Slack incoming webhook, a Microsoft Teams
// Workflows webhook (an Adaptive Card message) or a Generic JSON object for any other receiver.
//
// The webhook URL is a secret (Slack and Teams URLs carry a token). It is read from the policy's Secret
// at send time and appears nowhere else: errors and logs name only its host and the HTTP status.
//
// A message is sent at most once per run result: before sending, the Notifier records the result (the
// phase, and for Blocked the plan digest's start) in the run's devicesync.k12.dev/notified annotation (an optimistic-lock patch, so two reconciles cannot both
// claim it), and a run already carrying that phase is not sent again. A delivery that fails is reported
// to the caller (an Event and a log line), never as a failed run.
package notify
