-- Argo CD health check for devicesync.k12.dev/SyncRun, one run of a DeviceSyncPolicy.
--
-- Argo CD runs this with its restricted Lua libraries (base and table, no string library): keep it to
-- plain comparisons and the .. operator.
--
-- A SyncRun behaves like a Job: Pending and Running are Progressing, Succeeded is Healthy, Failed and
-- PartiallyFailed are Degraded. A Blocked run wrote nothing and waits for a person to approve its plan
-- (or to fix the data). Argo CD's convention for a resource that waits for an external event, such as a
-- paused Rollout or a suspended Job, is Suspended, not Degraded: nothing is broken yet, and Degraded
-- would read as a failure. The message says how to approve the exact plan that was reviewed.
local hs = {}

local function number(v)
  if v == nil then
    return 0
  end
  return v
end

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

local function firstError()
  if obj.status.errors ~= nil and obj.status.errors[1] ~= nil and obj.status.errors[1].message ~= nil then
    return obj.status.errors[1].message
  end
  return nil
end

local generation = obj.metadata.generation
if obj.status == nil or obj.status.observedGeneration == nil or
    (generation ~= nil and obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "Waiting for the controller to observe generation " .. generation
  else
    hs.message = "Waiting for the controller to observe the run"
  end
  return hs
end

local status = obj.status
local phase = status.phase
local progress = status.progress
local summary = status.summary
if summary == nil then
  summary = {}
end
local dryRun = status.mode == "DryRun"

if phase == nil or phase == "" or phase == "Pending" then
  hs.status = "Progressing"
  hs.message = "Pending: waiting to start"
  return hs
end

if phase == "Running" then
  hs.status = "Progressing"
  if progress ~= nil and number(progress.total) > 0 then
    hs.message = "Running: " .. number(progress.done) .. " of " .. progress.total .. " changes applied"
  else
    hs.message = "Running: reading Destiny and the MDM and planning"
  end
  return hs
end

if phase == "Succeeded" then
  hs.status = "Healthy"
  if dryRun then
    hs.message = "Dry run succeeded: " .. number(summary.changed) .. " changes planned, nothing written"
  else
    hs.message = "Succeeded: " .. number(summary.changed) .. " changed, " .. number(summary.inSync) ..
      " in sync, " .. number(summary.skipped) .. " skipped"
  end
  return hs
end

if phase == "PartiallyFailed" then
  hs.status = "Degraded"
  local failed = number(summary.failed)
  local total = 0
  if progress ~= nil then
    total = number(progress.total)
  end
  if total < failed then
    total = failed + number(summary.changed)
  end
  hs.message = failed .. " of " .. total .. " changes failed"
  local e = firstError()
  if e ~= nil then
    hs.message = hs.message .. "; first error: " .. e
  end
  return hs
end

if phase == "Failed" then
  hs.status = "Degraded"
  local c = condition("Failed")
  if c ~= nil and c.status == "True" and c.message ~= nil and c.message ~= "" then
    hs.message = c.message
  elseif firstError() ~= nil then
    hs.message = firstError()
  else
    hs.message = "Run failed"
  end
  return hs
end

if phase == "Blocked" then
  hs.status = "Suspended"
  local name = obj.metadata.name
  local namespace = obj.metadata.namespace
  local blocked = status.blocked
  local digest = "<status.blocked.planDigest>"
  if blocked ~= nil then
    hs.message = "Blocked (" .. tostring(blocked.reason) .. "): " .. tostring(blocked.message)
    if blocked.planDigest ~= nil and blocked.planDigest ~= "" then
      digest = blocked.planDigest
    end
  else
    hs.message = "Blocked"
  end
  local ns = ""
  if namespace ~= nil and namespace ~= "" then
    ns = " -n " .. namespace
  end
  hs.message = hs.message .. ". Nothing was written. Review the plan, then approve it with: kubectl" .. ns ..
    " annotate syncrun " .. name .. " devicesync.k12.dev/approve=" .. digest .. " --overwrite"
  return hs
end

hs.status = "Unknown"
hs.message = "Unknown phase " .. tostring(phase)
return hs
