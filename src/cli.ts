// placeholder until the CLI lands
console.log('llm-proxy-bootstrap');
