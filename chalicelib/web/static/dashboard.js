(function(){
  // The explorer (issue 20): choosing a survey submits the search form (the state is the URL's query).
  var survey=document.getElementById('ex-survey');
  if(survey){survey.addEventListener('change',function(){
    var q=document.getElementById('ex-q'); if(q)q.value=''; survey.form.submit();});}
})();

(function(){
  var table=document.getElementById('best-years');
  if(!table){document.documentElement.setAttribute('data-js','ready');return;}
  var tbody=table.tBodies[0], rows=Array.prototype.slice.call(tbody.rows);
  var input=document.getElementById('by-filter'), count=document.getElementById('by-count');
  var heads=table.tHead.rows[0].cells, state={filter:'',sort:'series',dir:'asc'};
  function readHash(){
    var p=new URLSearchParams(location.hash.slice(1));
    state.filter=(p.get('filter')||'').toUpperCase();
    state.sort=['series','year','value'].indexOf(p.get('sort'))>=0?p.get('sort'):'series';
    state.dir=p.get('dir')==='desc'?'desc':'asc';
  }
  function writeHash(){
    var p=new URLSearchParams();
    if(state.filter)p.set('filter',state.filter);
    if(state.sort!=='series'||state.dir!=='asc'){p.set('sort',state.sort);p.set('dir',state.dir);}
    history.replaceState(null,'',p.toString()?'#'+p.toString():location.pathname+location.search);
  }
  function render(){
    var k=state.sort, sign=state.dir==='desc'?-1:1;
    function bySeries(a,b){return a.dataset.series<b.dataset.series?-1:a.dataset.series>b.dataset.series?1:0;}
    rows.sort(function(a,b){
      var c=k==='series'?bySeries(a,b):parseFloat(a.dataset[k])-parseFloat(b.dataset[k]);
      return c*sign||bySeries(a,b);  // ties: by series id, ascending
    });
    var shown=0;
    rows.forEach(function(r){
      var ok=!state.filter||r.dataset.series.indexOf(state.filter)>=0||r.dataset.title.indexOf(state.filter)>=0;
      r.hidden=!ok; if(ok)shown++; tbody.appendChild(r);
    });
    count.textContent=shown+' of '+rows.length+' series';
    Array.prototype.forEach.call(heads,function(h){
      h.setAttribute('aria-sort',h.dataset.key===k?(state.dir==='desc'?'descending':'ascending'):'none');
    });
  }
  input.addEventListener('input',function(){state.filter=input.value.trim().toUpperCase();render();writeHash();});
  Array.prototype.forEach.call(heads,function(h){
    h.querySelector('button').addEventListener('click',function(){
      var k=h.dataset.key;
      state.dir=(state.sort===k&&state.dir==='asc')?'desc':(state.sort===k?'asc':(k==='series'?'asc':'desc'));
      state.sort=k; render(); writeHash();
    });
  });
  window.addEventListener('hashchange',function(){readHash();input.value=state.filter;render();});
  readHash(); input.value=state.filter; render();
  document.documentElement.setAttribute('data-js','ready');
})();
