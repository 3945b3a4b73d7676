-- Request a manual run: the controller starts one for every new value of the run-now annotation and
-- echoes the value it handled in status.lastHandledRunNow. The value is the current UTC time.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["devicesync.k12.dev/run-now"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
