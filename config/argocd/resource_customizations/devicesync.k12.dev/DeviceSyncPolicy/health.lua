-- Argo CD health check for devicesync.k12.dev/DeviceSyncPolicy.
--
-- Argo CD runs this with its restricted Lua libraries (base and table, no string library): keep it to
-- plain comparisons and the .. operator.
--
-- The policy is a configuration object. Its health says whether the controller accepted it and can
-- reach Destiny and the MDM (the Ready condition), not whether the latest run succeeded: a run that
-- failed because Destiny was down for an hour must not turn the Argo CD Application Degraded. The
-- latest result is in the message, each SyncRun has its own health, and the Prometheus alerts in
-- config/prometheus page for failed, blocked and overdue runs.
local hs = {}

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- "Reason: message", or whichever of the two is set.
local function explain(c)
  if c.reason ~= nil and c.reason ~= "" and c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return "no reason given"
end

local generation = obj.metadata.generation
if obj.status == nil or obj.status.observedGeneration == nil or
    (generation ~= nil and obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "Waiting for the controller to observe generation " .. generation
  else
    hs.message = "Waiting for the controller to observe the policy"
  end
  return hs
end

local ready = condition("Ready")

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Scheduled runs are suspended (spec.suspend); manual runs still execute"
  if ready ~= nil and ready.status == "False" then
    hs.message = hs.message .. ". Not ready: " .. explain(ready)
  end
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = explain(stalled)
  return hs
end

if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = explain(ready)
  return hs
end

local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = explain(reconciling)
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = "Ready is " .. tostring(ready.status) .. ": " .. explain(ready)
  return hs
end

-- Ready: healthy as a configuration object, whatever the latest run did.
hs.status = "Healthy"
local result = obj.status.lastRunResult
if result == nil or result == "" then
  hs.message = "Ready; no run has finished yet"
else
  hs.message = "Ready; last run " .. result
  local last = nil
  if obj.status.history ~= nil then
    last = obj.status.history[1]
  end
  if last ~= nil and last.name ~= nil then
    hs.message = hs.message .. " (" .. last.name .. ")"
  end
  if result == "Failed" or result == "PartiallyFailed" or result == "Blocked" then
    if last ~= nil and last.message ~= nil and last.message ~= "" then
      hs.message = hs.message .. ": " .. last.message
    end
    if result == "Blocked" then
      hs.message = hs.message .. "; the run waits for approval"
    end
  end
end
if obj.status.nextScheduleTime ~= nil then
  hs.message = hs.message .. "; next run " .. obj.status.nextScheduleTime
end
return hs
