# The demo's batch script: what `make run` shows without a terminal.
echo "== toybox-go demo: $(uname -sr), PID $$ under PID 1 $(cat /proc/1/comm 2>/dev/null)"
echo "== applets:"
/bin/toybox-go --list | tr '\n' ' '
echo
echo "== processes:"
ps -o pid,ppid,args | grep -v " \[" 
echo "== demo done: oneit reboots when this script ends"
