import sys
from knowledge_base.statutes import load_corpus
from settings import get_settings
c=load_corpus(get_settings().statute_dirs)
law, *words = sys.argv[1:]
for a in c.in_force():
    if a.law.startswith(law) and all(w in a.text for w in words):
        print(a.law[:12], a.number, a.text[:80].replace('\n',' '))
