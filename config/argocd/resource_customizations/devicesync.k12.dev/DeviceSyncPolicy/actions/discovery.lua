-- Argo CD resource actions of a DeviceSyncPolicy.
-- run-now is always offered: a manual run of a suspended policy still executes, as
-- `kubectl create job --from=cronjob/...` does for a suspended CronJob.
local actions = {}
actions["run-now"] = {["iconClass"] = "fa fa-fw fa-play-circle", ["displayName"] = "Run now"}

if obj.spec ~= nil and obj.spec.suspend ~= nil and obj.spec.suspend then
  actions["resume"] = {["iconClass"] = "fa fa-fw fa-play", ["displayName"] = "Resume schedule"}
else
  actions["suspend"] = {["iconClass"] = "fa fa-fw fa-pause", ["displayName"] = "Suspend schedule"}
end

return actions
