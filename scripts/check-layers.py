"""The core's modules import downward only: no two of core/src's top-level modules reach each
other through any chain of `crate::` paths (test modules and comments aside). Prints each
cycle and fails when there is one; `make lint` runs it."""

import glob
import os
import re
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
mods={}
for f in glob.glob('core/src/*.rs'):
    name=os.path.basename(f)[:-3]
    if name in ('lib',): continue
    mods[name]=f
for d in glob.glob('core/src/*/'):
    name=os.path.basename(d.rstrip('/'))
    mods[name]=d+'mod.rs'
lib=open('core/src/lib.rs').read()
exports={}
for m in re.finditer(r'pub use (\w+)::\{?([^;]*)\}?;',lib):
    for n in re.findall(r'\w+',m.group(2)): exports[n]=m.group(1)
def code(path):
    files=[path] if path.endswith('.rs') and not path.endswith('mod.rs') else glob.glob(os.path.dirname(path)+'/**/*.rs',recursive=True)
    out=''
    for f in files:
        s=re.split(r'#\[cfg\(test\)\]\n(?:pub\(crate\) )?mod tests',open(f).read())[0]
        out+='\n'.join(l for l in s.split('\n') if not l.strip().startswith('//'))
    return out
deps={}
for name,f in mods.items():
    s=code(f)
    refs=set(re.findall(r'crate::(\w+)',s))
    for m in re.finditer(r'use crate::\{([^}]*)\}',s,re.S):
        for part in m.group(1).split(','):
            part=part.strip()
            if part: refs.add(part.split('::')[0])
    d={r for r in refs if r in mods and r!=name}
    for n in refs:
        if n in exports and n not in mods and exports[n]!=name: d.add(exports[n])
    deps[name]=d
index={};low={};st=[];on=set();sccs=[];i=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
    for w in deps.get(v,()):
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v: break
        sccs.append(comp)
for v in deps:
    if v not in index: sc(v)
bad=[c for c in sccs if len(c)>1]
for c in bad:
    print("cycle:",sorted(c))
    for a in sorted(c): print(' ',a,'->',sorted(x for x in deps[a] if x in c))
print(f"core/src: {len(mods)} modules, {len(bad)} import cycles")
sys.exit(1 if bad else 0)
