# The shell's features, run twice by leakcheck (from shellleak): the
# second run must give back every page it takes.
echo hello world | cat
cat lorem | num | grep dolor | wc -l
cat < lorem | head -n 2 > out; cat out >> out2; cat out >> out2; wc out2
echo 'quoted  "words"' "and | symbols" \; ;
lsfd -1 > fds; cat fds
echo background & echo foreground
rm out out2 fds; ls -d out
