-- Stop scheduled runs (manual runs still execute). If spec.suspend is in Git, the Application shows
-- OutOfSync and self-heal puts it back: for anything but an emergency, commit the change instead.
obj.spec.suspend = true
return obj
