"""The oracle for templates: Python Microdot 2.7's microdot.jinja.Template
on Jinja templates that render what templates_app.lua's etlua ones do."""
import sys

from microdot import Microdot
from microdot.jinja import Template

app = Microdot()
Template.initialize(template_dir='templates')


@app.get('/hello')
async def hello(req):
    name = req.args.get('name')
    return Template('hello_jinja.html').render(name=name)


@app.get('/html')
async def html(req):
    name = req.args.get('name')
    return Template('hello_jinja.html').render(name=name), {'Content-Type': 'text/html'}


@app.get('/rows/<int:n>')
async def rows(req, n):
    return Template('rows_jinja.html').generate(n=n)


@app.get('/name')
async def name(req):
    return Template('hello_jinja.html').name


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]))
